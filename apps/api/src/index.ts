export { LOG_REDACT, buildApi } from './app.js';
export type { ApiDeps, BuildApiOptions } from './app.js';
export { composeApi } from './compose.js';
export type { ApiProcessOptions, ApiServices } from './compose.js';
export { ensureDashboardBuilt } from './dashboard-build.js';
export { API_DEFAULTS, loadApiEnv, loadApiSettings, loadMigrateEnv } from './env.js';
export type { ApiEnv, ApiSettings, ApiSettingsDefaults, MigrateEnv, TrustProxy } from './env.js';
export { DEFAULT_DASHBOARD_DIR } from './plugins/dashboard.js';
