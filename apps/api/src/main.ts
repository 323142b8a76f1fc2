import { Queue } from 'bullmq';
import { pino } from 'pino';
import {
  RedisEventLog,
  RedisPubSub,
  TEST_QUEUE_NAME,
  bullPrefix,
  createRedis,
  createTokenService,
  handleShutdown,
  loadConfigOrExit,
} from '@crucible/shared';
import type { TestJobData } from '@crucible/shared';
import { cachePrefix, createCache } from '@crucible/shared/cache';
import { createDb, migrateToLatest } from '@crucible/db';
import { apiLoggerOptions, buildApi } from './app.js';
import { DEFAULT_DASHBOARD_DIR } from './plugins/dashboard.js';
import { loadApiEnv } from './env.js';

const env = loadConfigOrExit(() => loadApiEnv());
const logger = pino({ level: env.logLevel, redact: ['token', 'authorization'] });

const db = createDb(env.databaseUrl, { onError: (err) => logger.warn({ err }, 'postgres client error') });
await migrateToLatest(db.kysely);
const redis = createRedis(env.redisUrl, 'producer', (err) =>
  logger.warn({ err: err.message }, 'redis error'),
);
const queue = new Queue<TestJobData>(TEST_QUEUE_NAME, { connection: redis, prefix: bullPrefix(env.prefix) });
queue.on('error', (err) => logger.warn({ err: err.message }, 'queue error'));
const eventLog = new RedisEventLog(redis, { prefix: env.prefix });
const pubsub = new RedisPubSub({
  subscriber: createRedis(env.redisUrl, 'subscriber', (err) =>
    logger.warn({ err: err.message }, 'redis subscriber error'),
  ),
  publisher: redis,
  prefix: env.prefix,
});
// Memory first, Redis behind it, the bus keeping every api process's memory coherent.
const cache = await createCache({
  redis,
  bus: pubsub,
  prefix: cachePrefix(env.prefix),
  jitter: 0.1,
  onError: (err) => logger.warn({ err }, 'cache degraded'),
});

const app = await buildApi(
  {
    db,
    redis,
    queue,
    eventLog,
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
  await pubsub.close();
  await queue.close();
  redis.disconnect();
  await db.close();
});
