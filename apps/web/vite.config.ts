import preact from '@preact/preset-vite';
import { defineConfig } from 'vitest/config';

/** Where `pnpm dev` forwards the API and WebSocket calls of the dev server (the all-in-one's port). */
const API_ORIGIN = process.env.CRUCIBLE_API_ORIGIN ?? 'http://127.0.0.1:3000';

export default defineConfig({
  plugins: [preact()],
  build: { outDir: 'dist', emptyOutDir: true },
  server: {
    proxy: {
      '/api': API_ORIGIN,
      '/ws': { target: API_ORIGIN.replace(/^http/, 'ws'), ws: true },
    },
  },
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.test.{ts,tsx}', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Two files at a time: the browser suites spend most of their time waiting on a page or a
    // server, and vitest's default on 2 cores is one.
    maxWorkers: 2,
    // expect.poll's own default is 1 s: on a loaded CI machine a page's fetch took longer (a list
    // still showed the unfiltered rows when the poll gave up, 2026-12-06).
    expect: { poll: { timeout: 10_000 } },
  },
});
