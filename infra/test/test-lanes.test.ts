import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The `turbo run test …` commands of `scripts/test-packages.sh`, the lanes `pnpm test` runs side by side. */
function laneCommands(): string[][] {
  const script = readFileSync(`${REPO_ROOT}scripts/test-packages.sh`, 'utf8');
  return [...script.matchAll(/^turbo run test (.*?)(?: &)?$/gm)].map((m) =>
    m[1]!.split(/\s+/).map((arg) => arg.replace(/^(--filter=)'(.*)'$/, '$1$2')),
  );
}

function tasksOf(args: string[]): string[] {
  const out = execFileSync('pnpm', ['exec', 'turbo', 'run', 'test', ...args, '--dry=json'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
  });
  return (JSON.parse(out) as { tasks: { taskId: string }[] }).tasks.map((t) => t.taskId);
}

describe('pnpm test lanes', { timeout: 60_000 }, () => {
  // A Vite build empties apps/web/dist: one run by a lane (infra's tests need the apps built) while
  // the other lane's dashboard browser tests served it made three of them find no page (CI, 2026-12-06).
  it('run every package’s tests once, and nothing but tests, on two lanes', () => {
    const lanes = laneCommands();
    expect(lanes).toHaveLength(2);
    const tasks = lanes.flatMap(tasksOf);
    expect(tasks.filter((t) => !t.endsWith('#test'))).toEqual([]);
    expect(new Set(tasks).size).toBe(tasks.length);
    expect(tasks).toEqual(
      expect.arrayContaining(['@crucible/api#test', '@crucible/web#test', '@crucible/infra#test']),
    );
  });
});

describe('the CI log', () => {
  // Stop 30's CI said only "@crucible/web#test exited (1)": the failing test's name and error were
  // far above the part of the log that is read, among the other lane's lines.
  it('ends with each failed test and its error, followed on its own package among interleaved lanes', () => {
    const log = [
      '@crucible/web:test:  ❯ test/pages.e2e.test.ts (16 tests | 1 failed) 156018ms',
      '@crucible/web:test: ⎯⎯⎯⎯⎯⎯⎯ Failed Tests 1 ⎯⎯⎯⎯⎯⎯⎯',
      '@crucible/web:test:  FAIL  test/pages.e2e.test.ts > the pages > makes an alert rule',
      '@crucible/worker:test:  ✓ src/a.test.ts (4 tests) 12ms',
      '@crucible/web:test: Error: Test timed out in 180000ms.',
      '@crucible/worker:test:  ✓ src/b.test.ts (1 test) 2ms',
      '@crucible/web:test:  ❯ test/pages.e2e.test.ts:989:3',
      '@crucible/gateway:test: ⎯⎯⎯⎯ Unhandled Errors ⎯⎯⎯⎯',
      '@crucible/gateway:test: Error: read ECONNRESET',
      ' Tasks:    2 successful, 3 total',
    ].join('\n');
    const out = execFileSync('awk', ['-f', `${REPO_ROOT}.ci/failures.awk`], { input: log, encoding: 'utf8' });
    expect(out.trimEnd().split('\n')).toEqual([
      '@crucible/web:test:  FAIL  test/pages.e2e.test.ts > the pages > makes an alert rule',
      '@crucible/web:test: Error: Test timed out in 180000ms.',
      '@crucible/web:test:  ❯ test/pages.e2e.test.ts:989:3',
      '@crucible/gateway:test: ⎯⎯⎯⎯ Unhandled Errors ⎯⎯⎯⎯',
      '@crucible/gateway:test: Error: read ECONNRESET',
    ]);
    expect(readFileSync(`${REPO_ROOT}.ci/run`, 'utf8')).toContain('awk -f .ci/failures.awk "$log"');
  });
});
