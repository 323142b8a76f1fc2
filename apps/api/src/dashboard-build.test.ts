import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureDashboardBuilt } from './dashboard-build.js';
import type { DashboardBuildPaths } from './dashboard-build.js';

/**
 * The build-once logic on a folder of its own, with a build that only writes an index.html: a test
 * that rebuilt the checkout's dashboard emptied apps/web/dist under every server the other suites
 * had started from it.
 */
describe('ensureDashboardBuilt', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function project() {
    const root = mkdtempSync(join(tmpdir(), 'crucible-dashboard-build-'));
    dirs.push(root);
    mkdirSync(join(root, 'src'));
    writeFileSync(join(root, 'src/main.ts'), 'console.log(1)');
    writeFileSync(join(root, 'src/main.test.ts'), 'test file');
    let builds = 0;
    let running = 0;
    let overlapped = false;
    const paths: DashboardBuildPaths = {
      root,
      sources: ['src'],
      outDir: join(root, 'dist'),
      cacheDir: join(root, 'cache'),
      async build() {
        builds++;
        overlapped ||= running > 0;
        running++;
        rmSync(join(root, 'dist'), { recursive: true, force: true });
        await sleep(300);
        mkdirSync(join(root, 'dist'));
        writeFileSync(join(root, 'dist/index.html'), `<div id="app"></div><!-- ${builds} -->`);
        running--;
      },
    };
    return { root, paths, builds: () => builds, overlapped: () => overlapped };
  }

  it('builds once for two starts at once, then not again until a source changes', async () => {
    const p = project();
    const results = await Promise.all([ensureDashboardBuilt(p.paths), ensureDashboardBuilt(p.paths)]);
    expect(results.sort()).toEqual([false, true]);
    expect(p.builds()).toBe(1);
    expect(p.overlapped()).toBe(false);

    expect(await ensureDashboardBuilt(p.paths)).toBe(false);
    // A test file is not a source of the bundle.
    writeFileSync(join(p.root, 'src/main.test.ts'), 'changed test file');
    expect(await ensureDashboardBuilt(p.paths)).toBe(false);
    expect(p.builds()).toBe(1);

    writeFileSync(join(p.root, 'src/main.ts'), 'console.log(2)');
    expect(await ensureDashboardBuilt(p.paths)).toBe(true);
    expect(p.builds()).toBe(2);
  });

  it('builds again when the output is not the one stamped (another build, or none)', async () => {
    const p = project();
    expect(await ensureDashboardBuilt(p.paths)).toBe(true);
    writeFileSync(join(p.root, 'dist/index.html'), 'something else');
    expect(await ensureDashboardBuilt(p.paths)).toBe(true);
    rmSync(join(p.root, 'dist'), { recursive: true });
    expect(await ensureDashboardBuilt(p.paths)).toBe(true);
    expect(p.builds()).toBe(3);
  });
});
