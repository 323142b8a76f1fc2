import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { IMPORT_GRAPH, REPO_ROOT, WORKSPACE_FOLDERS, workspaceUnits } from '../../lint/import-graph.mjs';

/** Holds lint/import-graph.mjs to the README, and every package.json to the graph. */

interface PackageJson {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const units = workspaceUnits();
const names = units.map((unit) => unit.name);
const apps = new Set(units.filter((unit) => unit.dir.startsWith('apps/')).map((unit) => unit.name));
const libraries = units.filter((unit) => unit.dir.startsWith('packages/')).map((unit) => unit.name);

/** The one composition of the server apps (`pnpm start`). */
const COMPOSITIONS = ['@crucible/all-in-one'];

function manifest(dir: string): PackageJson {
  return JSON.parse(readFileSync(join(REPO_ROOT, dir, 'package.json'), 'utf8')) as PackageJson;
}

function ours(dependencies: Record<string, string> | undefined): string[] {
  return Object.keys(dependencies ?? {}).filter((name) => name.startsWith('@crucible/'));
}

/** Every edge of the graph: `from` is a unit, or `unit:path` for a file's own allowance. */
function edges(): { from: string; unit: string; to: string }[] {
  return Object.entries(IMPORT_GRAPH).flatMap(([unit, entry]) => [
    ...[...entry.imports, ...(entry.tests ?? [])].map((to) => ({ from: unit, unit, to })),
    ...Object.entries(entry.files ?? {}).flatMap(([path, extra]) =>
      extra.map((to) => ({ from: `${unit}:${path}`, unit, to })),
    ),
  ]);
}

describe('lint/import-graph.mjs', () => {
  it('looks where pnpm-workspace.yaml does, and names every workspace package', () => {
    const workspace = parse(readFileSync(join(REPO_ROOT, 'pnpm-workspace.yaml'), 'utf8')) as {
      packages: string[];
    };
    expect(workspace.packages).toEqual(WORKSPACE_FOLDERS);
    expect(Object.keys(IMPORT_GRAPH).sort()).toEqual([...names].sort());
  });

  it('gives allowances only to files that exist', () => {
    const missing = Object.entries(IMPORT_GRAPH).flatMap(([name, entry]) =>
      Object.keys(entry.files ?? {})
        .map((path) => `${units.find((unit) => unit.name === name)?.dir ?? name}/${path}`)
        .filter((path) => !existsSync(join(REPO_ROOT, path))),
    );
    expect(missing).toEqual([]);
  });

  it('says what the README says: apps → packages, contracts nothing of ours, web contracts and client', () => {
    const all = edges();
    expect(all.filter((edge) => libraries.includes(edge.unit) && apps.has(edge.to))).toEqual([]);
    expect(
      all
        .filter((edge) => apps.has(edge.unit) && apps.has(edge.to) && !COMPOSITIONS.includes(edge.from))
        .map((edge) => edge.from),
    ).toEqual(
      // The api's integration tests run a worker in-process.
      ['@crucible/api'],
    );
    expect(all.filter((edge) => edge.unit === '@crucible/contracts')).toEqual([]);
    expect(all.filter((edge) => edge.unit === '@crucible/client').map((edge) => edge.to)).toEqual([
      '@crucible/contracts',
    ]);
    expect(IMPORT_GRAPH['@crucible/web']!.imports).toEqual(['@crucible/contracts', '@crucible/client']);
  });

  it('has no cycle', () => {
    const next = new Map<string, string[]>();
    for (const { unit, to } of edges()) next.set(unit, [...(next.get(unit) ?? []), to]);
    const cycles: string[] = [];
    const visit = (name: string, path: string[]) => {
      if (path.includes(name)) return void cycles.push([...path, name].join(' → '));
      for (const to of next.get(name) ?? []) visit(to, [...path, name]);
    };
    for (const name of names) visit(name, []);
    expect(cycles).toEqual([]);
  });
});

describe('each package.json declares only the workspace packages the graph lets it use', () => {
  it.each(units)('$dir', ({ name, dir }) => {
    const entry = IMPORT_GRAPH[name]!;
    const pkg = manifest(dir);
    const product = new Set([...entry.imports, ...Object.values(entry.files ?? {}).flat()]);
    const anywhere = new Set([...product, ...(entry.tests ?? []), ...(entry.tools ?? [])]);
    const runtime = [
      ...ours(pkg.dependencies),
      ...ours(pkg.peerDependencies),
      ...ours(pkg.optionalDependencies),
    ];
    expect(
      runtime.filter((dep) => !product.has(dep)),
      `${dir}/package.json dependencies`,
    ).toEqual([]);
    expect(
      ours(pkg.devDependencies).filter((dep) => !anywhere.has(dep)),
      `${dir}/package.json devDependencies`,
    ).toEqual([]);
  });

  it('@crucible/contracts depends on TypeBox and nothing else at run time', () => {
    const pkg = manifest('packages/contracts');
    expect(
      Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies, ...pkg.optionalDependencies }),
    ).toEqual(['@sinclair/typebox']);
  });
});
