import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import lockfile from 'proper-lockfile';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WEB_DIR = join(REPO_ROOT, 'apps/web');
const OUT_DIR = join(WEB_DIR, 'dist');

/** What the dashboard's bundle is made of: its own files and the workspace packages it imports. */
const SOURCES = [
  'apps/web/index.html',
  'apps/web/package.json',
  'apps/web/tsconfig.json',
  'apps/web/vite.config.ts',
  'apps/web/src',
  'packages/client/src',
  'packages/contracts/src',
  'pnpm-lock.yaml',
];

/** Kept out of the bundle's output folder, which any Vite build empties. */
const CACHE_DIR = join(WEB_DIR, 'node_modules/.cache/crucible');
const STAMP = join(CACHE_DIR, 'dashboard-build.json');

interface Stamp {
  /** SHA-256 of the sources the build was made from. */
  sources: string;
  /** SHA-256 of the index.html it produced: a build made elsewhere of the same sources matches it. */
  index: string;
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function filesOf(path: string): string[] {
  try {
    return readdirSync(path, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile() && !/\.test\.tsx?$/.test(entry.name))
      .map((entry) => join(entry.parentPath, entry.name))
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return [path];
    throw err;
  }
}

function hashSources(): string {
  const hash = createHash('sha256');
  for (const source of SOURCES) {
    for (const file of filesOf(join(REPO_ROOT, source))) {
      hash.update(relative(REPO_ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
    }
  }
  return hash.digest('hex');
}

function indexHash(): string | undefined {
  try {
    return sha256(readFileSync(join(OUT_DIR, 'index.html')));
  } catch {
    return undefined;
  }
}

function isFresh(sources: string): boolean {
  try {
    const stamp = JSON.parse(readFileSync(STAMP, 'utf8')) as Stamp;
    return stamp.sources === sources && stamp.index === indexHash();
  } catch {
    return false;
  }
}

function runBuild(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('pnpm', ['--filter', '@crucible/web', '--silent', 'build'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`building the dashboard failed (exit code ${code})`)),
    );
  });
}

/**
 * Builds the dashboard (`apps/web/dist`) when its sources changed since the last build, else leaves
 * it alone: a start from an unchanged checkout skips Vite's seconds. Processes started together from
 * one checkout build one at a time under a file lock (two Vite builds of one project at once fail);
 * the others wait and then find it fresh. Resolves whether it built.
 */
export async function ensureDashboardBuilt(): Promise<boolean> {
  const sources = hashSources();
  if (isFresh(sources)) return false;
  mkdirSync(CACHE_DIR, { recursive: true });
  // A builder that died leaves a lock whose mtime stops moving; it is taken over after `stale`.
  const release = await lockfile.lock(WEB_DIR, {
    lockfilePath: join(CACHE_DIR, 'dashboard-build.lock'),
    stale: 20_000,
    retries: { retries: 1_000, minTimeout: 100, maxTimeout: 500 },
  });
  try {
    if (isFresh(sources)) return false;
    process.stdout.write('building the dashboard (apps/web changed since its last build)\n');
    await runBuild();
    const stamp: Stamp = { sources, index: indexHash()! };
    writeFileSync(STAMP, JSON.stringify(stamp));
    return true;
  } finally {
    await release();
  }
}
