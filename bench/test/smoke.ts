import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { ratioOf } from '../src/harness.js';
import type { Report } from '../src/harness.js';
import { REPO_ROOT } from '../src/lib/processes.js';

const run = promisify(execFile);
export const cli = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, ['--import', 'tsx', 'bench/src/cli.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });

/**
 * The smoke run is split in two halves of about equal length, each its own test file, so the two
 * run side by side (`maxWorkers: 2`): one run of every benchmark took 340 s alone on 2 cores.
 */
export const SMOKE_GROUPS: Record<'a' | 'b', string[]> = {
  a: ['accept', 'dispatch', 'gateway', 'cache', 'monitors', 'growth'],
  b: ['stress', 'scale', 'notify'],
};

/** Every benchmark's name, in `pnpm bench --list`'s order. */
export async function listed(): Promise<string[]> {
  return (await cli(['--list'])).stdout
    .trim()
    .split('\n')
    .map((line) => line.split('\t')[0]!);
}

/**
 * A failed run's reasons first: the report (stdout) holds each benchmark's error after `FAILED:`,
 * while the error's own message is the command and its progress lines (stderr), which CI's
 * summary cut before the cause (2026-12-06).
 */
export function failuresIn(stdout: string): string {
  const out: string[] = [];
  let bench = '';
  for (const block of stdout.split(/^### /m)) {
    bench = block.split(' ')[0] ?? bench;
    const failed = /^FAILED:\n```\n([\s\S]*?)\n```/m.exec(block);
    if (failed) out.push(`${bench} failed: ${failed[1]}`);
  }
  return out.join('\n');
}

/**
 * `pnpm bench --smoke <names>` end to end: each benchmark starts what it needs, measures tiny sizes
 * and reports. Nothing here judges speed — only that the harness and every benchmark still work.
 */
export async function smoke(names: string[]): Promise<void> {
  const out = await mkdtemp(join(tmpdir(), 'crucible-bench-'));
  try {
    const { stdout } = await cli(names, { BENCH_SMOKE: '1', BENCH_RESULTS_DIR: out }).catch(
      (err: Error & { stdout?: string }) => {
        throw new Error(`${failuresIn(err.stdout ?? '') || err.message}`);
      },
    );
    const files = await readdir(out);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/-smoke\.json$/);
    const report = JSON.parse(await readFile(join(out, files[0]!), 'utf8')) as Report;

    expect(report.smoke).toBe(true);
    expect(report.machine.cpus).toBeGreaterThan(0);
    expect([...report.benchmarks.map((b) => b.name)].sort()).toEqual([...names].sort());
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
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}
