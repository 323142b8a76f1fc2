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
    expect(tasks).toEqual(expect.arrayContaining(['@crucible/api#test', '@crucible/web#test', '@crucible/infra#test']));
  });
});
