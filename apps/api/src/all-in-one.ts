import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import {
  ConfigError,
  RedisEventLog,
  RedisPubSub,
  TEST_QUEUE_NAME,
  bullPrefix,
  createRedis,
  createTokenService,
  envInt,
  envPrefix,
  envSecret,
  envString,
  envUrl,
  handleShutdown,
  loadConfigOrExit,
} from '@crucible/shared';
import type { TestJobData } from '@crucible/shared';
import { cachePrefix, createCache, invalidatingEventLog } from '@crucible/shared/cache';
import {
  ApiKeysRepository,
  TestsRepository,
  UsersRepository,
  createAuthenticator,
  createDb,
  migrateToLatest,
} from '@crucible/db';
import { gatewayPlugin } from '@crucible/gateway';
import { Egress, envAllowlist } from '@crucible/shared/egress';
import { createEngines, createTestWorker } from '@crucible/worker';
import { apiLoggerOptions, buildApi } from './app.js';
import { DEFAULT_DASHBOARD_DIR } from './plugins/dashboard.js';

/**
 * All of Crucible in one process on one port: the API, the WebSocket gateway at /ws and a worker,
 * composed from the same apps that run separately in distributed mode.
 */
function loadAllInOneEnv(env: NodeJS.ProcessEnv = process.env) {
  const dataDir = resolve(envString(env, 'CRUCIBLE_DATA_DIR', '.crucible')!);
  let jwtSecret = envSecret(env, 'JWT_SECRET');
  if (!jwtSecret) {
    // Generated once and kept in the data folder, so tokens survive a restart.
    mkdirSync(dataDir, { recursive: true });
    const file = join(dataDir, 'secret');
    try {
      jwtSecret = readFileSync(file, 'utf8').trim();
    } catch {
      jwtSecret = randomBytes(32).toString('hex');
      writeFileSync(file, jwtSecret, { mode: 0o600 });
    }
    if (jwtSecret.length < 32) throw new ConfigError('JWT_SECRET', `${file} holds fewer than 32 characters`);
  }
  return {
    dataDir,
    jwtSecret,
    databaseUrl:
      envUrl(env, 'DATABASE_URL', ['postgres:', 'postgresql:']) ??
      'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: envUrl(env, 'REDIS_URL', ['redis:', 'rediss:']) ?? 'redis://127.0.0.1:6379',
    port: envInt(env, 'PORT', 3000, { min: 0, max: 65535 }),
    host: envString(env, 'HOST', '0.0.0.0')!,
    concurrency: envInt(env, 'WORKER_CONCURRENCY', 5, { min: 1, max: 100 }),
    prefix: envPrefix(env),
    logLevel: envString(env, 'LOG_LEVEL', 'info')!,
    targetAllowlist: envAllowlist(env),
  };
}

const env = loadConfigOrExit(() => loadAllInOneEnv());
const logger = pino({ level: env.logLevel, redact: ['token', 'authorization'] });

const db = createDb(env.databaseUrl, {
  max: env.concurrency + 10,
  onError: (err) => logger.warn({ err }, 'postgres client error'),
});
await migrateToLatest(db.kysely);
const onRedisError = (err: Error) => logger.warn({ err: err.message }, 'redis error');
const redis = createRedis(env.redisUrl, 'producer', onRedisError);
const workerConnection = createRedis(env.redisUrl, 'worker', onRedisError);
const pubsub = new RedisPubSub({
  subscriber: createRedis(env.redisUrl, 'subscriber', onRedisError),
  publisher: redis,
  prefix: env.prefix,
});
const queue = new Queue<TestJobData>(TEST_QUEUE_NAME, { connection: redis, prefix: bullPrefix(env.prefix) });
queue.on('error', onRedisError);
const eventLog = new RedisEventLog(redis, { prefix: env.prefix });
const tokens = createTokenService(env.jwtSecret);
const cache = await createCache({
  redis,
  bus: pubsub,
  prefix: cachePrefix(env.prefix),
  jitter: 0.1,
  onError: (err) => logger.warn({ err }, 'cache degraded'),
});

const app = await buildApi(
  { db, redis, queue, eventLog, tokens, targetAllowlist: env.targetAllowlist, cache },
  { logger: apiLoggerOptions(env.logLevel), dashboardDir: DEFAULT_DASHBOARD_DIR },
);
await app.register(gatewayPlugin, {
  authenticate: createAuthenticator({
    users: new UsersRepository(db.kysely),
    apiKeys: new ApiKeysRepository(db.kysely),
    tokens,
  }),
  tests: new TestsRepository(db.kysely),
  eventLog,
  pubsub,
});
const worker = createTestWorker({
  db,
  connection: workerConnection,
  // The worker's status events drop the test's cached responses before they go out.
  eventLog: invalidatingEventLog(eventLog, cache),
  prefix: env.prefix,
  concurrency: env.concurrency,
  logger: logger.child({ app: 'worker' }),
  engines: createEngines(new Egress({ allowlist: env.targetAllowlist })),
});
await app.listen({ port: env.port, host: env.host });

const shown = env.host === '0.0.0.0' ? 'localhost' : env.host;
const banner = [
  `Crucible is running on http://${shown}:${env.port} (WebSocket: ws://${shown}:${env.port}/ws)`,
  `mode: all-in-one on PostgreSQL ${new URL(env.databaseUrl).host} and Redis ${new URL(env.redisUrl).host}; secret in ${env.dataDir}`,
  'distributed mode: set DATABASE_URL, REDIS_URL and JWT_SECRET and run pnpm start:api, start:worker, start:gateway',
];
process.stdout.write(`${banner.join('\n')}\n`);

handleShutdown(logger, async () => {
  await worker.close();
  await app.close();
  await cache.close();
  await queue.close();
  await pubsub.close();
  await Promise.allSettled([redis.quit(), workerConnection.quit()]);
  await db.close();
});
