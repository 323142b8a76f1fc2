export { buildApi, apiLoggerOptions } from './app.js';
export type { ApiDeps, BuildApiOptions } from './app.js';
export { loadApiEnv } from './env.js';
