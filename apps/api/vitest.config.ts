import { defineConfig } from 'vitest/config';
import type { TestProjectInlineConfiguration } from 'vitest/config';

/**
 * One module graph per worker process, not per test file (a fresh import of the stack per file cost
 * more CPU than many files' tests), and two files at a time: much of a file's time is spent waiting
 * on timers and processes, and vitest's default on 2 cores is one.
 */
const base = {
  testTimeout: 30_000,
  hookTimeout: 90_000,
  isolate: false,
  // expect.poll's own default is 1 s, short for a loaded CI machine.
  expect: { poll: { timeout: 10_000 } },
};

/**
 * A project per mode of the deployment under test. The queue suites run in both, on the backplane
 * of each (helpers read `CRUCIBLE_TEST_BACKPLANE`); `pnpm start`'s own suites are in apps/all-in-one.
 */
const projects: TestProjectInlineConfiguration[] = [
  {
    test: {
      ...base,
      name: 'distributed',
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      env: { CRUCIBLE_TEST_BACKPLANE: 'distributed' },
    },
  },
  {
    test: {
      ...base,
      name: 'embedded',
      include: [
        'test/queue.test.ts',
        'test/fairness.test.ts',
        'test/worker-processes.test.ts',
        'test/notifications.test.ts',
        'test/monitors.test.ts',
        'test/maintenance.test.ts',
        'test/status-pages.test.ts',
        'test/quotas.test.ts',
        'test/alerts.test.ts',
      ],
      env: { CRUCIBLE_TEST_BACKPLANE: 'embedded' },
    },
  },
];

export default defineConfig({ test: { projects, maxWorkers: 2 } });
