import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { isAbsolute, join, relative, resolve } from 'node:path';
import {
  ConfigError,
  ExitCodes,
  createLogger,
  createMetricsRegistry,
  createTokenService,
  envHost,
  envInt,
  envMetricsToken,
  envPrefix,
  envSecret,
  envString,
  envUrl,
  exitOnCrash,
  handleShutdown,
  loadConfigOrExit,
  loadProcessEnv,
} from '@crucible/shared';
import { cachePrefix } from '@crucible/shared/cache';
import {
  ApiKeysRepository,
  SessionsRepository,
  TestsRepository,
  createAuthenticator,
  createCredentialUses,
  createDb,
  migrateToLatest,
} from '@crucible/db';
import {
  BULLMQ_SCHEMA,
  DataDirInUseError,
  claimDataDir,
  createEmbeddedBackplane,
  createRedisBackplane,
  startEmbeddedPostgres,
} from '@crucible/backplane';
import type { Backplane, EmbeddedPostgres } from '@crucible/backplane';
import type { FastifyBaseLogger } from 'fastify';
import { gatewayPlugin } from '@crucible/gateway';
import { Egress, envAllowlist } from '@crucible/shared/egress';
import { ParserPool, createEngines, createTestWorker, drainNotice } from '@crucible/worker';
import { LOG_REDACT, buildApi } from './app.js';
import { ensureDashboardBuilt } from './dashboard-build.js';
import { envRegistration, envTrustProxy, loadAcceptBatch, loadAuthThrottle } from './env.js';
import { DEFAULT_DASHBOARD_DIR } from './plugins/dashboard.js';

/**
 * All of Crucible in one process on one port: the API, the WebSocket gateway at /ws and a worker,
 * composed from the same apps that run separately in distributed mode. Without DATABASE_URL and
 * REDIS_URL it needs nothing installed (embedded mode): PostgreSQL is PGlite with its files in the
 * data folder, the queue is BullMQ on that PostgreSQL, the bus and channel history live in memory.
 */
/** What embedded mode lets tests reach by default. */
const LOOPBACK_ALLOWLIST = '127.0.0.0/8,::1,localhost';

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
  const databaseUrl = envUrl(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  const redisUrl = envUrl(env, 'REDIS_URL', ['redis:', 'rediss:']);
  if (databaseUrl && !redisUrl)
    throw new ConfigError('REDIS_URL', 'set it with DATABASE_URL, or unset both (embedded mode)');
  if (redisUrl && !databaseUrl)
    throw new ConfigError('DATABASE_URL', 'set it with REDIS_URL, or unset both (embedded mode)');
  const services =
    databaseUrl && redisUrl
      ? { mode: 'distributed' as const, databaseUrl, redisUrl }
      : { mode: 'embedded' as const };
  // A developer testing their own site on this machine: loopback is allowed unless configured.
  const allowlist = envString(
    env,
    'TARGET_ALLOWLIST',
    services.mode === 'embedded' ? LOOPBACK_ALLOWLIST : '',
  )!;
  return {
    dataDir,
    jwtSecret,
    services,
    targetAllowlistText: allowlist,
    port: envInt(env, 'PORT', 3000, { min: 0, max: 65535 }),
    // One machine's tool: only its own browser reaches it unless HOST opens it to the network.
    host: envHost(env, '127.0.0.1'),
    metricsToken: envMetricsToken(env),
    concurrency: envInt(env, 'WORKER_CONCURRENCY', 5, { min: 1, max: 100 }),
    prefix: envPrefix(env),
    logLevel: envString(env, 'LOG_LEVEL', 'info')!,
    targetAllowlist: envAllowlist({ TARGET_ALLOWLIST: allowlist }),
    stressLimits: {
      maxConnections: envInt(env, 'STRESS_MAX_CONNECTIONS', 200, { min: 1, max: 10_000 }),
      maxDurationSec: envInt(env, 'STRESS_MAX_DURATION_SEC', 300, { min: 1, max: 3600 }),
    },
    workspaceMaxStressConnections: envInt(env, 'WORKSPACE_MAX_STRESS_CONNECTIONS', 200, {
      min: 1,
      max: 100_000,
    }),
    acceptBatch: loadAcceptBatch(env),
    authThrottle: loadAuthThrottle(env),
    registration: envRegistration(env),
    trustProxy: envTrustProxy(env),
  };
}

const env = loadConfigOrExit(() => loadAllInOneEnv());
const proc = loadConfigOrExit(() => loadProcessEnv(process.env, { shutdownTimeoutMs: 15_000 }));
// Running tests may take all but the last 5 s of the bound, which closing everything else needs.
const drainTimeoutMs = Math.max(0, proc.shutdownTimeoutMs - 5_000);
const logger = await createLogger({
  name: 'crucible',
  level: env.logLevel,
  format: proc.logFormat,
  redact: [...LOG_REDACT, 'token', 'authorization'],
});
exitOnCrash(logger);

const fromHere = relative(process.cwd(), env.dataDir);
const dataDir = fromHere.startsWith('..') || isAbsolute(fromHere) ? env.dataDir : `./${fromHere}`;

// Before anything slow: a second start on the same data folder says so at once, in one line.
if (env.services.mode === 'embedded') {
  try {
    claimDataDir(env.dataDir);
  } catch (err) {
    if (!(err instanceof DataDirInUseError)) throw err;
    console.error(
      `crucible: the data folder ${dataDir} is in use by process ${err.pid} (another pnpm start?); stop it, or give this one its own CRUCIBLE_DATA_DIR`,
    );
    process.exit(ExitCodes.FAILURE);
  }
}
await ensureDashboardBuilt();

let embedded: EmbeddedPostgres | undefined;
let databaseUrl: string;
if (env.services.mode === 'embedded') {
  try {
    embedded = await startEmbeddedPostgres({ dataDir: env.dataDir, searchPath: ['public', BULLMQ_SCHEMA] });
  } catch (err) {
    logger.fatal({ err }, `cannot open the embedded database in ${env.dataDir}`);
    process.exit(1);
  }
  databaseUrl = embedded.url;
} else {
  databaseUrl = env.services.databaseUrl;
}
const db = createDb(databaseUrl, {
  max: env.concurrency + 10,
  onError: (err) => logger.warn({ err }, 'postgres client error'),
});
await migrateToLatest(db.kysely);
const onServiceError = (err: Error) => logger.warn({ err: err.message }, 'queue or bus error');
const backplane: Backplane =
  env.services.mode === 'embedded'
    ? await createEmbeddedBackplane({ databaseUrl, onError: onServiceError })
    : createRedisBackplane({ url: env.services.redisUrl, prefix: env.prefix, onError: onServiceError });
const tokens = createTokenService(env.jwtSecret);
const cache = await backplane.createCache({
  prefix: cachePrefix(env.prefix),
  jitter: 0.1,
  onError: (err) => logger.warn({ err }, 'cache degraded'),
});

// One /metrics for the one process: the API's and the gateway's series side by side.
const registry = createMetricsRegistry('all-in-one');
const app = await buildApi(
  { db, backplane, tokens, targetAllowlist: env.targetAllowlist, cache, groupCommit: env.acceptBatch },
  {
    loggerInstance: logger as FastifyBaseLogger,
    dashboardDir: DEFAULT_DASHBOARD_DIR,
    registry,
    queueBoard: { secret: env.jwtSecret },
    authThrottle: env.authThrottle,
    registration: env.registration,
    trustProxy: env.trustProxy,
    metricsToken: env.metricsToken,
  },
);
const apiKeys = new ApiKeysRepository(db.kysely);
const sessions = new SessionsRepository(db.kysely);
// The gateway's upgrades are uses of their keys and sessions, as the api's requests are.
const uses = createCredentialUses({
  apiKeys,
  sessions,
  onError: (err) => logger.warn({ err }, 'recording credential use failed'),
});
app.addHook('onClose', async () => uses.flush());
await app.register(gatewayPlugin, {
  authenticate: createAuthenticator({ apiKeys, sessions, uses, tokens }),
  tests: new TestsRepository(db.kysely),
  eventLog: backplane.eventLog,
  pubsub: backplane.pubsub,
  tickets: backplane.tickets,
  connections: backplane.connections,
  acks: backplane.acks,
  apiKeys,
  sessions,
  metrics: registry,
});
// Pages are parsed in threads: one hostile page must not freeze the API and gateway beside the worker.
const parser = new ParserPool();
const worker = createTestWorker({
  db,
  backplane,
  cache,
  concurrency: env.concurrency,
  logger: logger.child({ app: 'worker' }),
  engines: createEngines(new Egress({ allowlist: env.targetAllowlist }), {
    stressLimits: env.stressLimits,
    parser,
  }),
  maxStressConnectionsPerOwner: env.workspaceMaxStressConnections,
  maxStressConnectionsPerTest: env.stressLimits.maxConnections,
  drainTimeoutMs,
});
await worker.ready;
await app.listen({ port: env.port, host: env.host });

// What the socket is really bound to, not what was asked for.
const bound = app.server.address() as AddressInfo;
const everywhere = bound.address === '0.0.0.0' || bound.address === '::';
const shown = everywhere ? 'localhost' : bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
const banner = [
  `Crucible is running on http://${shown}:${bound.port} (WebSocket: ws://${shown}:${bound.port}/ws)`,
  everywhere
    ? `listening on every interface (${bound.address}): whoever can reach port ${bound.port} can use it`
    : `listening on ${bound.address} only (HOST=0.0.0.0 opens it to other machines)`,
  env.registration
    ? `registration: ${env.registration} (REGISTRATION)`
    : 'registration: open until the first account (the admin), then by invitation (REGISTRATION)',
  env.services.mode === 'embedded'
    ? `mode: embedded: data in ${dataDir} (PostgreSQL: PGlite, queue: BullMQ on it; nothing else to install)`
    : `mode: all-in-one on PostgreSQL ${new URL(env.services.databaseUrl).host} and Redis ${new URL(env.services.redisUrl).host}; secret in ${dataDir}`,
  env.targetAllowlistText
    ? `tests may reach these private addresses: ${env.targetAllowlistText} (TARGET_ALLOWLIST)`
    : 'tests may not reach private or loopback addresses (allow some with TARGET_ALLOWLIST)',
  env.services.mode === 'embedded'
    ? 'distributed mode: set DATABASE_URL, REDIS_URL and JWT_SECRET and run pnpm start:api, start:worker, start:gateway'
    : 'separate processes: pnpm start:api, start:worker, start:gateway with the same variables',
];
process.stdout.write(`${banner.join('\n')}\n`);

// Ctrl-C: running tests get the drain to finish, and a second Ctrl-C hands them back at once (they
// run again on the next start, no attempt used up); either way the stop is clean and exits 0.
handleShutdown(
  logger,
  async () => {
    if (worker.runningCount()) logger.info(drainNotice(worker.runningCount(), drainTimeoutMs));
    await worker.close();
    await app.close();
    await parser.close();
    await cache.close();
    await backplane.close();
    await db.close();
    await embedded?.close();
  },
  { timeoutMs: proc.shutdownTimeoutMs, onRepeat: () => worker.handBack() },
);
