import { defineConfig } from 'vitest/config';
import type { TestProjectInlineConfiguration } from 'vitest/config';

/** One module graph per worker process, not per test file: the gateway suite's CPU 78 s → 30 s. */
const base = {
  testTimeout: 30_000,
  hookTimeout: 90_000,
  isolate: false,
  // expect.poll's own default is 1 s, short for a loaded CI machine.
  expect: { poll: { timeout: 10_000 } },
};

/**
 * The gateway suites run twice: on Redis as separate gateway processes (`distributed`), and on the
 * embedded backplane's in-process bus as `pnpm start` mounts it (`embedded`); the harness reads
 * `CRUCIBLE_TEST_BACKPLANE`.
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
      include: ['test/**/*.test.ts'],
      env: { CRUCIBLE_TEST_BACKPLANE: 'embedded' },
    },
  },
];

export default defineConfig({ test: { projects } });
