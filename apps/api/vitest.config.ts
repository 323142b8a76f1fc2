import { defineConfig } from 'vitest/config';
import type { TestProjectInlineConfiguration } from 'vitest/config';

const base = { testTimeout: 30_000, hookTimeout: 30_000 };

/**
 * A project per mode of the deployment under test. The queue suites run in both, on the backplane
 * of each (helpers read `CRUCIBLE_TEST_BACKPLANE`); the end-to-end tests start their own processes
 * in one mode or the other.
 */
const embeddedOnly = ['test/embedded.e2e.test.ts'];
const projects: TestProjectInlineConfiguration[] = [
  {
    test: {
      ...base,
      name: 'distributed',
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      exclude: embeddedOnly,
      env: { CRUCIBLE_TEST_BACKPLANE: 'distributed' },
    },
  },
  {
    test: {
      ...base,
      name: 'embedded',
      include: ['test/queue.test.ts', 'test/worker-processes.test.ts', ...embeddedOnly],
      env: { CRUCIBLE_TEST_BACKPLANE: 'embedded' },
    },
  },
];

export default defineConfig({ test: { projects } });
