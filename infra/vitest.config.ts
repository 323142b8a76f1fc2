import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Starts built apps as processes on a shared, busy machine.
    testTimeout: 90_000,
    hookTimeout: 180_000,
    isolate: false,
  },
});
