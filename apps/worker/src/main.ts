import Fastify from 'fastify';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { ConfigError, createMetricsRegistry, handleShutdown, registerHealthRoutes } from '@crucible/shared';
import { CacheStrategy, cachePrefix, invalidatingEventLog } from '@crucible/shared/cache';
import { createDb, migrateToLatest } from '@crucible/db';
import { Egress } from '@crucible/shared/egress';
import { createRedisBackplane } from '@crucible/backplane';
import { createEngines } from './engines/registry.js';
import { loadWorkerEnv } from './env.js';
import type { WorkerEnv } from './env.js';
import { createTestWorker } from './worker.js';

let env: WorkerEnv;
try {
  env = loadWorkerEnv();
} catch (err) {
  // A bad variable is an operator's mistake: say which one, without a stack trace.
  if (!(err instanceof ConfigError)) throw err;
  console.error(`invalid configuration: ${err.message}`);
  process.exit(1);
}
const logger = pino({ name: 'worker', level: env.logLevel });

const db = createDb(env.databaseUrl, {
  // One connection per running job plus the health check.
  max: env.concurrency + 2,
  onError: (err) => logger.warn({ err }, 'idle database connection failed'),
});
await migrateToLatest(db.kysely);

const backplane = createRedisBackplane({
  url: env.redisUrl,
  prefix: env.prefix,
  onError: (err) => logger.warn({ err }, 'redis error'),
});
// Publishing fails fast while Redis is down, so a lost message never stalls a running test;
// the queue consumer waits for Redis instead.
await backplane.waitUntilReady();
// The worker never reads the API's cache; it only invalidates it: Redis entries directly, other
// processes' memory over the bus.
const cache = await backplane.createCache({
  strategy: CacheStrategy.REDIS_ONLY,
  prefix: cachePrefix(env.prefix),
  onError: (err) => logger.warn({ err }, 'cache invalidation degraded'),
});

const testWorker = createTestWorker({
  db,
  backplane: {
    createWorker: backplane.createWorker,
    eventLog: invalidatingEventLog(backplane.eventLog, cache),
  },
  concurrency: env.concurrency,
  logger,
  engines: createEngines(new Egress({ allowlist: env.targetAllowlist })),
});

// Widened: fastify's default generics expect its own logger type, which pino's satisfies.
const app = Fastify({ loggerInstance: logger as FastifyBaseLogger });
await registerHealthRoutes(app, {
  registry: createMetricsRegistry('worker'),
  checks: {
    db: async () => {
      await db.pool.query('select 1');
      return true;
    },
    ...backplane.checks,
  },
});
await app.listen({ host: '0.0.0.0', port: env.healthPort });
logger.info({ concurrency: env.concurrency, prefix: env.prefix }, 'worker ready');

handleShutdown(logger, async () => {
  await testWorker.close();
  await app.close();
  await cache.close();
  await backplane.close();
  await db.close();
});
