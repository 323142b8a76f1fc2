import { createDb, migrateToLatest, migrationsApplied } from '@crucible/db';
import {
  ExitCodes,
  createLogger,
  createMetricsRegistry,
  createTokenService,
  exitOnCrash,
  handleShutdown,
  loadConfigOrExit,
  loadProcessEnv,
  registerHealthRoutes,
  requestLogController,
  settlesWithin,
} from '@crucible/runtime';
import { createRedisBackplane } from '@crucible/backplane';
import Fastify from 'fastify';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { composeGateway } from './compose.js';
import { loadGatewayEnv } from './env.js';
import { serializeRequest } from './gateway.js';

const env = loadConfigOrExit(() => loadGatewayEnv(process.env));
const proc = loadConfigOrExit(() => loadProcessEnv(process.env, { shutdownTimeoutMs: 10_000 }));
const logger = await createLogger({
  name: 'gateway',
  level: env.logLevel,
  format: proc.logFormat,
  // The Fastify instance is given this logger, so its request serializer must redact here too.
  serializers: { req: serializeRequest, err: pino.stdSerializers.err },
  redact: ['req.headers.authorization', 'token', 'ticket', '*.token', '*.ticket'],
});
exitOnCrash(logger);

const db = createDb(env.databaseUrl, {
  onError: (err) => logger.error({ err }, 'idle database client failed'),
});
if (proc.migrateOnStart) await migrateToLatest(db.kysely);
const backplane = createRedisBackplane({
  url: env.redisUrl,
  prefix: env.prefix,
  connectionLeaseMs: env.leaseMs,
  onError: (err) => logger.error({ err }, 'redis error'),
});
// Typed as Fastify's base logger: registerHealthRoutes takes the default FastifyInstance.
const appLogger: FastifyBaseLogger = logger;
const app = Fastify({ loggerInstance: appLogger, logController: requestLogController() });
const registry = createMetricsRegistry('gateway');
let migrated = false;
await registerHealthRoutes(app, {
  checks: {
    db: async () => (await db.pool.query('SELECT 1')).rowCount === 1,
    migrations: async () => (migrated ||= await migrationsApplied(db.kysely)),
    ...backplane.checks,
  },
  registry,
  metricsToken: env.metricsToken,
});
await composeGateway(
  app,
  {
    db,
    backplane,
    tokens: createTokenService(env.jwtSecret),
    metrics: registry,
    // Sockets get half the drain bound to finish their close handshake.
    shutdownGraceMs: Math.floor(proc.shutdownTimeoutMs / 2),
  },
  env,
);

handleShutdown(
  logger,
  async () => {
    // Closing Fastify closes every socket with 1001 first (the plugin's preClose), then writes the
    // credential uses still pending.
    const closed = await settlesWithin(app.close(), proc.shutdownTimeoutMs);
    await backplane.close();
    await db.close();
    return closed ? ExitCodes.OK : ExitCodes.DRAIN_TIMEOUT;
  },
  { timeoutMs: proc.shutdownTimeoutMs },
);

await app.listen({ port: env.port, host: env.host });
