import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import lockfile from 'proper-lockfile';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WEB_DIR = join(REPO_ROOT, 'apps/web');

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

/** Where a build reads, writes and records itself; the checkout's unless a test gives its own. */
export interface DashboardBuildPaths {
  /** The folder the source paths are relative to. */
  root: string;
  sources: readonly string[];
  /** The build's output: `index.html` in it is what a stamp matches. */
  outDir: string;
  /** The stamp and the lock: kept out of the output folder, which any Vite build empties. */
  cacheDir: string;
  build(): Promise<void>;
}

const CHECKOUT: DashboardBuildPaths = {
  root: REPO_ROOT,
  sources: SOURCES,
  outDir: join(WEB_DIR, 'dist'),
  cacheDir: join(WEB_DIR, 'node_modules/.cache/crucible'),
  build: runBuild,
};

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

function hashSources(paths: DashboardBuildPaths): string {
  const hash = createHash('sha256');
  for (const source of paths.sources) {
    for (const file of filesOf(join(paths.root, source))) {
      hash.update(relative(paths.root, file)).update('\0').update(readFileSync(file)).update('\0');
    }
  }
  return hash.digest('hex');
}

function indexHash(paths: DashboardBuildPaths): string | undefined {
  try {
    return sha256(readFileSync(join(paths.outDir, 'index.html')));
  } catch {
    return undefined;
  }
}

const stampOf = (paths: DashboardBuildPaths) => join(paths.cacheDir, 'dashboard-build.json');

function isFresh(paths: DashboardBuildPaths, sources: string): boolean {
  try {
    const stamp = JSON.parse(readFileSync(stampOf(paths), 'utf8')) as Stamp;
    return stamp.sources === sources && stamp.index === indexHash(paths);
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
export async function ensureDashboardBuilt(paths: DashboardBuildPaths = CHECKOUT): Promise<boolean> {
  const sources = hashSources(paths);
  if (isFresh(paths, sources)) return false;
  mkdirSync(paths.cacheDir, { recursive: true });
  // A builder that died leaves a lock whose mtime stops moving; it is taken over after `stale`.
  const release = await lockfile.lock(paths.cacheDir, {
    lockfilePath: join(paths.cacheDir, 'dashboard-build.lock'),
    stale: 20_000,
    retries: { retries: 1_000, minTimeout: 100, maxTimeout: 500 },
  });
  try {
    if (isFresh(paths, sources)) return false;
    process.stdout.write('building the dashboard (apps/web changed since its last build)\n');
    await paths.build();
    const stamp: Stamp = { sources, index: indexHash(paths)! };
    writeFileSync(stampOf(paths), JSON.stringify(stamp));
    return true;
  } finally {
    await release();
  }
}
