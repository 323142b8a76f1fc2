import { once } from 'node:events';
import Fastify from 'fastify';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import {
  ConfigError,
  RedisEventLog,
  RedisPubSub,
  createMetricsRegistry,
  createRedis,
  handleShutdown,
  registerHealthRoutes,
} from '@crucible/shared';
import { CacheStrategy, cachePrefix, createCache, invalidatingEventLog } from '@crucible/shared/cache';
import { createDb, migrateToLatest } from '@crucible/db';
import { Egress } from '@crucible/shared/egress';
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

const connection = createRedis(env.redisUrl, 'worker', (err) => logger.warn({ err }, 'redis (queue) error'));
// Publishing fails fast while Redis is down, so a lost message never stalls a running test.
const publisher = createRedis(env.redisUrl, 'producer', (err) =>
  logger.warn({ err }, 'redis (events) error'),
);
await once(publisher, 'ready');
// The worker never reads the API's cache; it only invalidates it: Redis entries directly, other
// processes' memory over the bus (publish only, so the subscriber connection is never opened).
const cacheBus = new RedisPubSub({
  subscriber: createRedis(env.redisUrl, 'subscriber', () => {}, { lazyConnect: true }),
  publisher,
  prefix: env.prefix,
});
const cache = await createCache({
  strategy: CacheStrategy.REDIS_ONLY,
  redis: publisher,
  bus: cacheBus,
  prefix: cachePrefix(env.prefix),
  onError: (err) => logger.warn({ err }, 'cache invalidation degraded'),
});
const eventLog = invalidatingEventLog(new RedisEventLog(publisher, { prefix: env.prefix }), cache);

const testWorker = createTestWorker({
  db,
  connection,
  eventLog,
  prefix: env.prefix,
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
    redis: async () => (await connection.ping()) === 'PONG',
  },
});
await app.listen({ host: '0.0.0.0', port: env.healthPort });
logger.info({ concurrency: env.concurrency, prefix: env.prefix }, 'worker ready');

handleShutdown(logger, async () => {
  await testWorker.close();
  await app.close();
  await cache.close();
  await cacheBus.close();
  await Promise.all([connection.quit(), publisher.quit()]);
  await db.close();
});
