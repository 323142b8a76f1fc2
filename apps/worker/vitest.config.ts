import { defineConfig } from 'vitest/config';
import type { TestProjectInlineConfiguration } from 'vitest/config';

const browserSuite = ['test/browser/**/*.test.ts'];

/**
 * The browser engine's suite drives a real Chromium and Lighthouse (about 20 s a page load on a
 * shared machine): its own project, with room for that, so it can be run (`--project browser`) or
 * left out (`--project worker`) on its own.
 */
const projects: TestProjectInlineConfiguration[] = [
  {
    test: {
      name: 'worker',
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      exclude: browserSuite,
      testTimeout: 30_000,
      hookTimeout: 90_000,
      isolate: false,
      // expect.poll's own default is 1 s, short for a loaded CI machine.
      expect: { poll: { timeout: 10_000 } },
    },
  },
  {
    test: {
      name: 'browser',
      include: browserSuite,
      testTimeout: 240_000,
      hookTimeout: 90_000,
      isolate: false,
      // expect.poll's own default is 1 s, short for a loaded CI machine.
      expect: { poll: { timeout: 10_000 } },
    },
  },
];

/**
 * One module graph per worker process, not per test file, and two files at a time: the browser
 * suite mostly waits on Chromium, beside the engine suites.
 */
export default defineConfig({ test: { projects, maxWorkers: 2 } });
