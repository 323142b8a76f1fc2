export { buildApi, apiLoggerOptions } from './app.js';
export type { ApiDeps } from './app.js';
export { loadApiEnv } from './env.js';
