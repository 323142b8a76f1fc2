import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyBaseLogger } from 'fastify';
import { cachePrefix, createBackplaneCache } from '@crucible/cache';
import {
  ExitCodes,
  createLogger,
  createTokenService,
  exitOnCrash,
  handleShutdown,
  loadConfigOrExit,
  loadProcessEnv,
  settlesWithin,
} from '@crucible/runtime';
import { createDb, migrateToLatest } from '@crucible/db';
import { createRedisBackplane } from '@crucible/backplane';
import { LOG_REDACT } from './app.js';
import { composeApi } from './compose.js';
import { ensureDashboardBuilt } from './dashboard-build.js';
import { DEFAULT_DASHBOARD_DIR } from './plugins/dashboard.js';
import { loadApiEnv } from './env.js';

const env = loadConfigOrExit(() => loadApiEnv());
const proc = loadConfigOrExit(() => loadProcessEnv(process.env, { shutdownTimeoutMs: 10_000 }));
const logger = await createLogger({
  name: 'api',
  level: env.logLevel,
  format: proc.logFormat,
  redact: [...LOG_REDACT, 'token', 'authorization'],
});
exitOnCrash(logger);

const db = createDb(env.databaseUrl, { onError: (err) => logger.warn({ err }, 'postgres client error') });
// Off when a one-shot job migrates (compose, Kubernetes); /health/ready waits for the schema.
if (proc.migrateOnStart) await migrateToLatest(db.kysely);
const backplane = createRedisBackplane({
  url: env.redisUrl,
  prefix: env.prefix,
  onError: (err) => logger.warn({ err: err.message }, 'redis error'),
});
// Memory first, Redis behind it, the bus keeping every api process's memory coherent.
const cache = await createBackplaneCache(backplane.cacheStack, {
  prefix: cachePrefix(env.prefix),
  jitter: 0.1,
  onError: (err) => logger.warn({ err }, 'cache degraded'),
});

// A build (`pnpm build`, the image) puts the dashboard beside the bundle; from source it is apps/web/dist.
const bundledDashboard = fileURLToPath(new URL('./web', import.meta.url));
const dashboardDir = existsSync(bundledDashboard) ? bundledDashboard : DEFAULT_DASHBOARD_DIR;
if (dashboardDir === DEFAULT_DASHBOARD_DIR) await ensureDashboardBuilt();

const app = await composeApi(
  { db, backplane, tokens: createTokenService(env.jwtSecret), cache },
  {
    loggerInstance: logger as FastifyBaseLogger,
    dashboardDir,
    queueBoard: { secret: env.jwtSecret },
    metricsToken: env.metricsToken,
  },
  env,
);
await app.listen({ port: env.port, host: env.host });

// Fastify stops accepting, answers 503 on new requests (readiness fails) and lets in-flight
// requests finish; past the bound the process exits 3 with them cut.
handleShutdown(
  logger,
  async () => {
    const closed = await settlesWithin(app.close(), proc.shutdownTimeoutMs);
    await cache.close();
    await backplane.close();
    await db.close();
    return closed ? ExitCodes.OK : ExitCodes.DRAIN_TIMEOUT;
  },
  { timeoutMs: proc.shutdownTimeoutMs },
);
