import { defineConfig } from 'vitest/config';
import type { TestProjectInlineConfiguration } from 'vitest/config';

// Each suite starts `pnpm start` (or its entry) as a process of its own and waits for it.
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
 * A project per mode, named as in the api and the gateway: `embedded` is `pnpm start` with nothing
 * else installed; `distributed` is the rest (the same process on the machine's PostgreSQL and
 * Redis, a single-server deployment). Each suite sets its process's mode itself.
 */
const embeddedOnly = ['test/embedded.e2e.test.ts'];
const projects: TestProjectInlineConfiguration[] = [
  {
    test: {
      ...base,
      name: 'distributed',
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      exclude: embeddedOnly,
    },
  },
  {
    test: {
      ...base,
      name: 'embedded',
      include: embeddedOnly,
    },
  },
];

export default defineConfig({ test: { projects, maxWorkers: 2 } });
