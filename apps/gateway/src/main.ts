import {
  ApiKeysRepository,
  TestsRepository,
  UsersRepository,
  createAuthenticator,
  createDb,
  migrateToLatest,
} from '@crucible/db';
import {
  ConfigError,
  createMetricsRegistry,
  createTokenService,
  handleShutdown,
  registerHealthRoutes,
} from '@crucible/shared';
import { createRedisBackplane } from '@crucible/backplane';
import Fastify from 'fastify';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { loadGatewayEnv } from './env.js';
import { gatewayPlugin, serializeRequest } from './gateway.js';

function loadEnv() {
  try {
    return loadGatewayEnv(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`invalid configuration: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
}

const env = loadEnv();
const logger = pino({
  level: env.logLevel,
  // The Fastify instance is given this logger, so its request serializer must redact here too.
  serializers: { req: serializeRequest, err: pino.stdSerializers.err },
  redact: ['req.headers.authorization'],
});

const db = createDb(env.databaseUrl, {
  onError: (err) => logger.error({ err }, 'idle database client failed'),
});
await migrateToLatest(db.kysely);
const backplane = createRedisBackplane({
  url: env.redisUrl,
  prefix: env.prefix,
  onError: (err) => logger.error({ err }, 'redis error'),
});
const authenticate = createAuthenticator({
  users: new UsersRepository(db.kysely),
  apiKeys: new ApiKeysRepository(db.kysely),
  tokens: createTokenService(env.jwtSecret),
});

// Typed as Fastify's base logger: registerHealthRoutes takes the default FastifyInstance.
const appLogger: FastifyBaseLogger = logger;
const app = Fastify({ loggerInstance: appLogger });
await app.register(gatewayPlugin, {
  authenticate,
  tests: new TestsRepository(db.kysely),
  eventLog: backplane.eventLog,
  pubsub: backplane.pubsub,
  limits: env.limits,
  allowedOrigins: env.allowedOrigins,
});
await registerHealthRoutes(app, {
  checks: {
    db: async () => (await db.pool.query('SELECT 1')).rowCount === 1,
    ...backplane.checks,
  },
  registry: createMetricsRegistry('gateway'),
});

handleShutdown(logger, async () => {
  // Closing Fastify closes every socket with 1001 first (the plugin's preClose).
  await app.close();
  await backplane.close();
  await db.close();
});

await app.listen({ port: env.port, host: '0.0.0.0' });
