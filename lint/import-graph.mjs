/**
 * Who may import whom: the workspace's import direction, stated once (README, "Who may import
 * whom"). The lint rule `crucible/import-direction` (lint/import-direction.mjs) holds every import
 * to it; infra/test/import-graph.test.ts holds every package.json to it.
 *
 * A unit is one workspace package (a folder with a package.json under apps/, packages/, or bench/
 * and infra/). Its product code is everything but its tests and tooling files (see `isTestFile`).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

export const REPO_ROOT = join(import.meta.dirname, '..');

/** Where workspace packages live (pnpm-workspace.yaml says the same; the test compares them). */
export const WORKSPACE_FOLDERS = ['apps/*', 'packages/*', 'bench', 'infra'];

/** The libraries of `packages/` that apps build on. */
const LIBRARIES = [
  '@crucible/contracts',
  '@crucible/client',
  '@crucible/runtime',
  '@crucible/backplane',
  '@crucible/cache',
  '@crucible/egress',
  '@crucible/db',
  '@crucible/notify',
];

/** The server processes; only a composition of them (the all-in-one) imports them. */
const SERVER_APPS = ['@crucible/api', '@crucible/worker', '@crucible/gateway'];

/**
 * @typedef {object} Unit
 * @property {string[]} imports  the `@crucible/*` packages its product code may import
 * @property {Record<string, string[]>} [files]  more for one file (its path inside the unit)
 * @property {string[]} [tests]  more for its tests and tooling files
 * @property {string[]} [tools]  named in its package.json for the build only, never imported
 * @property {boolean} [browser]  its product code runs in the browser: no Node built-in modules
 * @property {string[]} [externals]  if set, the only npm packages its product code may import
 */

/** @type {Record<string, Unit>} */
export const IMPORT_GRAPH = {
  // What processes and clients agree on: nothing of ours, TypeBox only, safe in a browser.
  '@crucible/contracts': { imports: [], externals: ['@sinclair/typebox'], browser: true },
  '@crucible/client': { imports: ['@crucible/contracts'], browser: true },
  '@crucible/runtime': { imports: ['@crucible/contracts'] },
  '@crucible/egress': { imports: [] },
  // Its `/testing` entry makes a test deployment's database.
  '@crucible/backplane': { imports: ['@crucible/contracts'], files: { 'src/testing.ts': ['@crucible/db'] } },
  // Its tests run on the backplane's buses, so the backplane must never import the cache.
  '@crucible/cache': { imports: ['@crucible/contracts'], tests: ['@crucible/backplane'] },
  '@crucible/db': { imports: ['@crucible/contracts'] },
  '@crucible/bundler': { imports: [] },
  // Channels' payloads and the outbox's dispatcher, shared by the api (a test send) and the worker.
  '@crucible/notify': {
    imports: ['@crucible/contracts', '@crucible/db', '@crucible/egress', '@crucible/runtime'],
    tests: ['@crucible/backplane'],
  },

  '@crucible/api': {
    imports: LIBRARIES,
    // Its integration tests run a worker in-process.
    tests: ['@crucible/worker'],
    // Its image serves the built dashboard.
    tools: ['@crucible/bundler', '@crucible/web'],
  },
  '@crucible/worker': { imports: LIBRARIES, tools: ['@crucible/bundler'] },
  '@crucible/gateway': { imports: LIBRARIES, tools: ['@crucible/bundler'] },
  // `pnpm start`: the three server apps in one process, through their settings loaders and compose…
  '@crucible/all-in-one': { imports: [...LIBRARIES, ...SERVER_APPS] },
  // The dashboard, in the browser. Its browser tests start a deployment on a test database.
  '@crucible/web': {
    imports: ['@crucible/contracts', '@crucible/client'],
    tests: ['@crucible/db'],
    browser: true,
  },

  // The `crucible` command: a client like the dashboard. Its build bundles contracts and client into
  // dist/ (so they are dev dependencies), and its tests start a deployment on a test database.
  '@crucible/cli': {
    imports: ['@crucible/contracts', '@crucible/client'],
    tests: ['@crucible/db'],
    tools: ['@crucible/bundler'],
    externals: ['@sinclair/typebox', 'cli-progress', 'commander', 'picocolors', 'ws', 'yaml'],
  },

  // Benchmarks and the deployment's tests drive whole apps.
  '@crucible/bench': { imports: [...LIBRARIES, ...SERVER_APPS] },
  // Its tests also hold all-in-one's reading of each app's variables to the apps' own.
  '@crucible/infra': { imports: [...LIBRARIES, ...SERVER_APPS, '@crucible/all-in-one'] },
};

/** @returns {{ name: string, dir: string }[]} every workspace package, `dir` relative to the repo */
export function workspaceUnits() {
  const dirs = WORKSPACE_FOLDERS.flatMap((folder) =>
    folder.endsWith('/*')
      ? readdirSync(join(REPO_ROOT, folder.slice(0, -2)), { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => `${folder.slice(0, -2)}/${entry.name}`)
      : [folder],
  );
  return dirs
    .filter((dir) => existsSync(join(REPO_ROOT, dir, 'package.json')))
    .map((dir) => ({
      name: JSON.parse(readFileSync(join(REPO_ROOT, dir, 'package.json'), 'utf8')).name,
      dir,
    }));
}

/** @type {{ name: string, dir: string }[] | undefined} */
let units;

/**
 * @param {string} file  an absolute path
 * @returns {{ name: string, dir: string, path: string } | undefined} its unit and its path inside it
 */
export function unitOfFile(file) {
  units ??= workspaceUnits();
  const path = relative(REPO_ROOT, file).split(sep).join('/');
  const unit = units.find((u) => path.startsWith(`${u.dir}/`));
  return unit && { ...unit, path: path.slice(unit.dir.length + 1) };
}

/**
 * Tests and tooling: `*.test.ts(x)`, the unit's `test/` folder, its `*.config.*` files. (Product
 * folders may be called `tests`: a test is also what Crucible runs.)
 * @param {string} path  a path inside the unit
 */
export function isTestFile(path) {
  return /\.test\.tsx?$/.test(path) || path.startsWith('test/') || /^[^/]+\.config\.[cm]?[jt]s$/.test(path);
}

/**
 * @param {string} name  a unit's package name
 * @param {string} path  a file's path inside the unit
 * @returns {Set<string>} the `@crucible/*` packages that file may import
 */
export function allowedImports(name, path) {
  const unit = IMPORT_GRAPH[name];
  return new Set([
    ...unit.imports,
    ...(unit.files?.[path] ?? []),
    ...(isTestFile(path) ? (unit.tests ?? []) : []),
  ]);
}

/**
 * @param {string} specifier  an import specifier
 * @returns {string | undefined} the npm package it names (`@scope/name` or `name`), if it names one
 */
export function packageOfSpecifier(specifier) {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:'))
    return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}
