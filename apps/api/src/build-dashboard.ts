/**
 * `pnpm build:web`: builds the dashboard now when its sources changed, and stamps it, so every
 * server started afterwards (`pnpm start`, the test suites' processes) finds it fresh instead of
 * spending its readiness wait on a Vite build.
 */
import { ensureDashboardBuilt } from './dashboard-build.js';

await ensureDashboardBuilt();
