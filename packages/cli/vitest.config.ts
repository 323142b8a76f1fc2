import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    isolate: false,
    // One server per test file, and the machine is small: files run one after another.
    fileParallelism: false,
  },
});
