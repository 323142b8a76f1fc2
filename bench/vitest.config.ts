import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 60_000,
    isolate: false,
    // The smoke run's two halves (test/smoke-a, smoke-b) side by side; vitest's default is 1 on 2 cores.
    maxWorkers: 2,
  },
});
