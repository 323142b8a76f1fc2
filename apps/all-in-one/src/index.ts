export { LOOPBACK_ALLOWLIST, loadAllInOneSettings } from './env.js';
export type { AllInOneSettings, Services } from './env.js';
