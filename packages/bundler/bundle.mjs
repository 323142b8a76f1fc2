#!/usr/bin/env node
// Production build of one app: bundles its entry points and the internal packages they import
// (`@crucible/*`, which export TypeScript source) into plain ESM JavaScript under dist/, runnable
// with `node dist/main.js`. Third-party packages stay external, loaded from node_modules: the
// image installs the app's production dependencies with `pnpm deploy --prod` and a hoisted
// (flat) node_modules, so a package that an internal package depends on resolves from dist/ too.
// The build fails naming any package a bundle imports that no production dependency declares.
//
// usage (an app's build script): crucible-bundle src/main.ts [src/other.ts …] [--copy from=to …]
// --copy puts a built folder (e.g. the dashboard) beside the bundle, at dist/<to>.
import { cpSync, existsSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { basename, dirname, extname, join, resolve } from 'node:path';
import process from 'node:process';
import { build } from 'esbuild';

const fail = (message) => process.stderr.write(`${message}\n`);

const appDir = process.cwd();
const entries = [];
const copies = [];
for (let i = 2; i < process.argv.length; i++) {
  const arg = process.argv[i];
  if (arg === '--copy') {
    const [from, to] = (process.argv[++i] ?? '').split('=');
    if (!from || !to) {
      fail('--copy takes from=to');
      process.exit(2);
    }
    copies.push({ from: resolve(appDir, from), to: resolve(appDir, 'dist', to) });
  } else entries.push(arg);
}
if (entries.length === 0) {
  fail('usage: crucible-bundle <entry.ts> [entry.ts …] [--copy from=to …]');
  process.exit(2);
}
const readManifest = (dir) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
const manifest = readManifest(appDir);

/**
 * Packages installed with the app: its dependencies and, through each workspace package among
 * them, that package's dependencies (what `pnpm deploy --prod` puts in node_modules). Dev
 * dependencies along the way count only for dynamic imports (pino-pretty, loaded outside production).
 */
function dependencyClosure(dir, seen = new Set(), runtime = new Set(), dev = new Set()) {
  const pkg = readManifest(dir);
  if (seen.has(pkg.name)) return { runtime, dev };
  seen.add(pkg.name);
  for (const name of Object.keys(pkg.devDependencies ?? {})) dev.add(name);
  for (const [name, version] of Object.entries(pkg.dependencies ?? {})) {
    runtime.add(name);
    if (String(version).startsWith('workspace:')) {
      const location = dirname(realpathSync(join(dir, 'node_modules', name, 'package.json')));
      dependencyClosure(location, seen, runtime, dev);
    }
  }
  return { runtime, dev };
}
const { runtime: runtimeDeps, dev: devDeps } = dependencyClosure(appDir);

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
const packageOf = (specifier) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

const externalThirdParty = {
  name: 'external-third-party',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('@crucible/')) return undefined;
      return { path: args.path, external: true };
    });
  },
};

rmSync(resolve(appDir, 'dist'), { recursive: true, force: true });
const result = await build({
  absWorkingDir: appDir,
  entryPoints: Object.fromEntries(entries.map((e) => [basename(e, extname(e)), e])),
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  // Keeps stack traces and logs readable (class names survive).
  keepNames: true,
  metafile: true,
  logLevel: 'warning',
  plugins: [externalThirdParty],
});

// Static imports must be runtime dependencies; a dynamic import may be a dev-only one
// (pino-pretty, loaded only outside production).
const problems = [];
for (const [file, output] of Object.entries(result.metafile.outputs)) {
  for (const imp of output.imports) {
    if (!imp.external || isBuiltin(imp.path)) continue;
    const name = packageOf(imp.path);
    const allowed =
      imp.kind === 'dynamic-import' ? runtimeDeps.has(name) || devDeps.has(name) : runtimeDeps.has(name);
    if (!allowed)
      problems.push(
        `${file} imports "${imp.path}", which no production dependency of ${manifest.name} declares`,
      );
  }
}
if (problems.length > 0) {
  fail([...new Set(problems)].join('\n'));
  fail('add each package to the dependencies of the package whose source imports it');
  process.exit(1);
}

for (const { from, to } of copies) {
  if (!existsSync(from)) {
    fail(`${from} does not exist: build it first (declare its package as a dependency so turbo does)`);
    process.exit(1);
  }
  cpSync(from, to, { recursive: true });
}
