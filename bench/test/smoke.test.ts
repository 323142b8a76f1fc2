import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ratioOf } from '../src/harness.js';
import type { Report } from '../src/harness.js';
import { REPO_ROOT } from '../src/lib/processes.js';

const run = promisify(execFile);
const cli = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, ['--import', 'tsx', 'bench/src/cli.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });

// `pnpm bench --smoke` end to end: every benchmark starts what it needs, measures tiny sizes and
// reports. Nothing here judges speed — only that the harness and every benchmark still work.
describe('pnpm bench --smoke', () => {
  let out: string;
  afterAll(() => rm(out, { recursive: true, force: true }));

  it('runs every benchmark and reports each figure beside its anchor', async () => {
    out = await mkdtemp(join(tmpdir(), 'crucible-bench-'));
    const names = (await cli(['--list'])).stdout
      .trim()
      .split('\n')
      .map((line) => line.split('\t')[0]);
    expect(names).toContain('accept');

    const { stdout } = await cli([], { BENCH_SMOKE: '1', BENCH_RESULTS_DIR: out });
    const files = await readdir(out);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/-smoke\.json$/);
    const report = JSON.parse(await readFile(join(out, files[0]!), 'utf8')) as Report;

    expect(report.smoke).toBe(true);
    expect(report.machine.cpus).toBeGreaterThan(0);
    expect(report.benchmarks.map((b) => b.name)).toEqual(names);
    for (const bench of report.benchmarks) {
      expect(bench.error, `${bench.name} failed`).toBeNull();
      if (bench.skipped) {
        expect(stdout).toContain(`Skipped: ${bench.skipped}`);
        continue;
      }
      expect(bench.comparisons.length, bench.name).toBeGreaterThan(0);
      expect(stdout).toContain(`### ${bench.name} — `);
      for (const comparison of bench.comparisons) {
        expect(stdout).toContain(`**${comparison.title}**`);
        expect(comparison.rows.length).toBeGreaterThan(0);
        for (const row of comparison.rows) {
          for (const side of [row.crucible, row.anchor]) {
            expect(side.samples).toHaveLength(3);
            for (const v of side.samples) expect(Number.isFinite(v) && v >= 0).toBe(true);
            expect(side.min).toBe(Math.min(...side.samples));
            expect(side.max).toBe(Math.max(...side.samples));
            expect(side.median).toBe([...side.samples].sort((a, b) => a - b)[1]);
          }
          const ratio = ratioOf(row.crucible.median, row.anchor.median);
          // JSON has no Infinity: an unbounded ratio (a zero anchor) is written as null.
          if (Number.isFinite(ratio)) expect(row.ratio).toBeCloseTo(ratio, 9);
          else expect(row.ratio).toBeNull();
          expect(stdout).toContain(`| ${row.metric} | ${row.crucible.label} | `);
        }
      }
    }
  });
});
