/** What `pnpm start` runs, relative to the repo root (the suites start it from there). */
export const ENTRY = 'apps/all-in-one/src/main.ts';
