import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import type { FastifyBaseLogger } from 'fastify';
import { CacheStrategy, cachePrefix, createBackplaneCache } from '@crucible/cache';
import {
  ExitCodes,
  createLogger,
  createMetricsRegistry,
  exitOnCrash,
  handleShutdown,
  loadConfigOrExit,
  loadProcessEnv,
  registerHealthRoutes,
  registerQueueMetrics,
  requestLogController,
  settlesWithin,
} from '@crucible/runtime';
import { createDb, migrateToLatest, migrationsApplied } from '@crucible/db';
import { createRedisBackplane } from '@crucible/backplane';
import { composeWorker } from './compose.js';
import { loadWorkerEnv } from './env.js';
import { ParserPool } from './parsing/parser-pool.js';
import { instrumentWorker } from './metrics.js';
import { drainNotice } from './worker.js';
import type { TestWorker } from './worker.js';

const env = loadConfigOrExit(() => loadWorkerEnv());
// A running test may take minutes; its drain bound is longer than the HTTP apps'.
const proc = loadConfigOrExit(() => loadProcessEnv(process.env, { shutdownTimeoutMs: 60_000 }));
const logger = await createLogger({ name: 'worker', level: env.logLevel, format: proc.logFormat });
exitOnCrash(logger);

const db = createDb(env.databaseUrl, {
  // One connection per running job plus the health check.
  max:
    (env.queues.includes('tests') ? env.concurrency : 0) +
    (env.queues.includes('browser') ? env.browserConcurrency : 0) +
    2,
  onError: (err) => logger.warn({ err }, 'idle database connection failed'),
});
if (proc.migrateOnStart) await migrateToLatest(db.kysely);

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
const cache = await createBackplaneCache(backplane.cacheStack, {
  strategy: CacheStrategy.REDIS_ONLY,
  prefix: cachePrefix(env.prefix),
  onError: (err) => logger.warn({ err }, 'cache invalidation degraded'),
});

const registry = createMetricsRegistry('worker');
registerQueueMetrics(registry, backplane.queue.all);
let migrated = false;
// Widened: fastify's default generics expect its own logger type, which pino's satisfies.
const app = Fastify({ loggerInstance: logger as FastifyBaseLogger, logController: requestLogController() });
await registerHealthRoutes(app, {
  registry,
  metricsToken: env.metricsToken,
  checks: {
    db: async () => (await db.pool.query('SELECT 1')).rowCount === 1,
    migrations: async () => (migrated ||= await migrationsApplied(db.kysely)),
    ...backplane.checks,
  },
});
await app.listen({ host: env.host, port: env.healthPort });

// Pages, stylesheets and JSON bodies are parsed in these threads, never on this event loop.
const parser = new ParserPool();
let testWorker: TestWorker | undefined;
let stopping = false;
// Tests still running near the end of the bound are handed back to the queue in its last seconds.
const drainTimeoutMs = Math.max(0, proc.shutdownTimeoutMs - 5_000);

handleShutdown(
  logger,
  async () => {
    stopping = true;
    if (testWorker?.runningCount()) logger.info(drainNotice(testWorker.runningCount(), drainTimeoutMs));
    // Running tests finish within the bound, or are handed back to the queue just before it ends;
    // if even that does not settle, the process exits with them running: their locks lapse and
    // another worker's stalled-job check takes them up again.
    if (testWorker && !(await settlesWithin(testWorker.close(), proc.shutdownTimeoutMs))) {
      logger.warn(
        { boundMs: proc.shutdownTimeoutMs },
        'drain bound reached; leaving running jobs to the queue',
      );
      await app.close();
      return ExitCodes.DRAIN_TIMEOUT;
    }
    await app.close();
    await parser.close();
    await cache.close();
    await backplane.close();
    await db.close();
    return ExitCodes.OK;
  },
  { timeoutMs: proc.shutdownTimeoutMs, graceMs: 10_000, onRepeat: () => testWorker?.handBack() },
);

// Jobs are taken only once the schema they write to is there (the migrate job may still run).
while (!stopping && !(migrated ||= await migrationsApplied(db.kysely).catch(() => false))) {
  logger.info('waiting for database migrations');
  await sleep(2_000);
}
if (!stopping) {
  testWorker = composeWorker({ db, backplane, cache, logger, parser, drainTimeoutMs }, env);
  instrumentWorker([...testWorker.consumers.values()], registry);
  await testWorker.ready;
  logger.info(
    {
      queues: env.queues,
      concurrency: env.concurrency,
      browserConcurrency: env.browserConcurrency,
      prefix: env.prefix,
    },
    'worker ready',
  );
}
