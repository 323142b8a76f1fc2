import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_DIR, runCli, startCrucible, startTarget, tempDir } from './helpers.js';
import type { Crucible } from './helpers.js';

/**
 * The CLI as a user installs it: `pnpm pack`ed (contracts and client bundled into dist/ by
 * esbuild), installed into an empty folder outside the monorepo with only its declared
 * dependencies (from the local store when it has them), and run against a real server.
 */
describe('the packed CLI outside the monorepo', { timeout: 180_000 }, () => {
  let crucible: Crucible;
  let target: Awaited<ReturnType<typeof startTarget>>;
  const packDir = tempDir();
  const installDir = tempDir();
  let bin: string;
  let tarball: string;

  beforeAll(async () => {
    execFileSync('pnpm', ['pack', '--pack-destination', packDir], { cwd: CLI_DIR, stdio: 'pipe' });
    tarball = join(
      packDir,
      readdirSync(packDir).find((f) => f.endsWith('.tgz'))!,
    );
    writeFileSync(join(installDir, 'package.json'), JSON.stringify({ name: 'ci-job', private: true }));
    execFileSync('pnpm', ['add', tarball, '--prefer-offline', '--ignore-workspace', '--reporter', 'silent'], {
      cwd: installDir,
      stdio: 'pipe',
    });
    bin = join(installDir, 'node_modules', '.bin', 'crucible');
    target = await startTarget();
    crucible = await startCrucible();
  }, 240_000);

  afterAll(async () => {
    await crucible?.close();
    await target?.close();
    rmSync(packDir, { recursive: true, force: true });
    rmSync(installDir, { recursive: true, force: true });
  });

  it('holds only the bundle and the schemas, and installs nothing but its declared dependencies', () => {
    const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).trim().split('\n').sort();
    expect(files).toEqual([
      'package/dist/main.js',
      'package/package.json',
      'package/schemas/checks.schema.json',
      'package/schemas/summary.schema.json',
    ]);
    const manifest = JSON.parse(readFileSync(join(CLI_DIR, 'package.json'), 'utf8'));
    const installed = readdirSync(join(installDir, 'node_modules'))
      .flatMap((name) =>
        name.startsWith('@')
          ? readdirSync(join(installDir, 'node_modules', name)).map((n) => `${name}/${n}`)
          : [name],
      )
      .filter((name) => !name.startsWith('.'))
      .sort();
    expect(installed).toEqual(['@crucible/cli']);
    // pnpm puts a package's dependencies beside it in its own folder of the virtual store.
    const store = join(realpathSync(join(installDir, 'node_modules', '@crucible', 'cli')), '..', '..');
    const top = readdirSync(store)
      .flatMap((name) =>
        name.startsWith('@') ? readdirSync(join(store, name)).map((n) => `${name}/${n}`) : [name],
      )
      .filter((name) => !name.startsWith('.') && name !== '@crucible/cli')
      .sort();
    expect(top).toEqual(Object.keys(manifest.dependencies).sort());
    expect(statSync(tarball).size).toBeLessThan(100_000);
  });

  it('runs: --version, and a test against a real server with exit 0', async () => {
    const version = spawnSync(bin, ['--version'], { cwd: installDir, encoding: 'utf8' });
    expect(version.stdout.trim()).toBe(
      JSON.parse(readFileSync(join(CLI_DIR, 'package.json'), 'utf8')).version,
    );
    // Asynchronously: the target and this test share one event loop.
    const run = await runCli(
      ['run', '--type', 'performance', '--target', target.url, '--config', 'iterations=2'],
      { CRUCIBLE_URL: crucible.url, CRUCIBLE_TOKEN: crucible.token, NO_COLOR: '1' },
      installDir,
      [bin],
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^\[\s*\S+\]\s+\d+% request 2\/2/m);
    expect(run.stdout).toMatch(/✔ performance http:\/\/127\.0\.0\.1:\d+\/: no verdict/);
  });
});
