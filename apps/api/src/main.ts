import { pino } from 'pino';
import { createTokenService, handleShutdown, loadConfigOrExit } from '@crucible/shared';
import { cachePrefix } from '@crucible/shared/cache';
import { createDb, migrateToLatest } from '@crucible/db';
import { createRedisBackplane } from '@crucible/backplane';
import { apiLoggerOptions, buildApi } from './app.js';
import { DEFAULT_DASHBOARD_DIR } from './plugins/dashboard.js';
import { loadApiEnv } from './env.js';

const env = loadConfigOrExit(() => loadApiEnv());
const logger = pino({ level: env.logLevel, redact: ['token', 'authorization'] });

const db = createDb(env.databaseUrl, { onError: (err) => logger.warn({ err }, 'postgres client error') });
await migrateToLatest(db.kysely);
const backplane = createRedisBackplane({
  url: env.redisUrl,
  prefix: env.prefix,
  onError: (err) => logger.warn({ err: err.message }, 'redis error'),
});
// Memory first, Redis behind it, the bus keeping every api process's memory coherent.
const cache = await backplane.createCache({
  prefix: cachePrefix(env.prefix),
  jitter: 0.1,
  onError: (err) => logger.warn({ err }, 'cache degraded'),
});

const app = await buildApi(
  {
    db,
    backplane,
    tokens: createTokenService(env.jwtSecret),
    targetAllowlist: env.targetAllowlist,
    cache,
  },
  { logger: apiLoggerOptions(env.logLevel), dashboardDir: DEFAULT_DASHBOARD_DIR },
);
await app.listen({ port: env.port, host: env.host });

handleShutdown(app.log, async () => {
  await app.close();
  await cache.close();
  await backplane.close();
  await db.close();
});
