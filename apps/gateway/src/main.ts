import {
  ApiKeysRepository,
  SessionsRepository,
  TestsRepository,
  createAuthenticator,
  createCredentialUses,
  createDb,
  migrateToLatest,
  migrationsApplied,
} from '@crucible/db';
import {
  ExitCodes,
  createLogger,
  createMetricsRegistry,
  createTokenService,
  exitOnCrash,
  handleShutdown,
  loadConfigOrExit,
  loadProcessEnv,
  requestLogController,
  registerHealthRoutes,
  settlesWithin,
} from '@crucible/shared';
import { createRedisBackplane } from '@crucible/backplane';
import Fastify from 'fastify';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { loadGatewayEnv } from './env.js';
import { gatewayPlugin, serializeRequest } from './gateway.js';

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
const apiKeys = new ApiKeysRepository(db.kysely);
const sessions = new SessionsRepository(db.kysely);
// An upgrade is a use of its key or session, noted as the api notes requests.
const uses = createCredentialUses({
  apiKeys,
  sessions,
  onError: (err) => logger.warn({ err }, 'recording credential use failed'),
});
const authenticate = createAuthenticator({
  apiKeys,
  sessions,
  uses,
  tokens: createTokenService(env.jwtSecret),
  // As the api does (DESIGN.md, "Auth"): a user's sockets opened together read the row once, and
  // upgrades stop queueing on the database (held that long, their garbage outlives young collections).
  cacheTtlMs: 5_000,
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
await app.register(gatewayPlugin, {
  authenticate,
  tests: new TestsRepository(db.kysely),
  eventLog: backplane.eventLog,
  pubsub: backplane.pubsub,
  tickets: backplane.tickets,
  connections: backplane.connections,
  acks: backplane.acks,
  apiKeys,
  sessions,
  metrics: registry,
  limits: env.limits,
  allowedOrigins: env.allowedOrigins,
  // Sockets get half the drain bound to finish their close handshake.
  shutdownGraceMs: Math.floor(proc.shutdownTimeoutMs / 2),
  revalidateMs: env.revalidateMs,
});

handleShutdown(
  logger,
  async () => {
    // Closing Fastify closes every socket with 1001 first (the plugin's preClose).
    const closed = await settlesWithin(app.close(), proc.shutdownTimeoutMs);
    await uses.flush();
    await backplane.close();
    await db.close();
    return closed ? ExitCodes.OK : ExitCodes.DRAIN_TIMEOUT;
  },
  { timeoutMs: proc.shutdownTimeoutMs },
);

await app.listen({ port: env.port, host: env.host });
