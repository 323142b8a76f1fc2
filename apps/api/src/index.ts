export { buildApi } from './app.js';
export type { ApiDeps, BuildApiOptions } from './app.js';
export { loadApiEnv, loadMigrateEnv } from './env.js';
export type { ApiEnv, MigrateEnv } from './env.js';
