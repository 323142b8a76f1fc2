import type { AddressInfo } from 'node:net';
import { isAbsolute, relative } from 'node:path';
import { cachePrefix, createBackplaneCache } from '@crucible/cache';
import {
  ExitCodes,
  createLogger,
  createMetricsRegistry,
  createTokenService,
  exitOnCrash,
  handleShutdown,
  loadConfigOrExit,
  loadProcessEnv,
} from '@crucible/runtime';
import { createDb, migrateToLatest } from '@crucible/db';
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
import { DEFAULT_DASHBOARD_DIR, LOG_REDACT, composeApi, ensureDashboardBuilt } from '@crucible/api';
import { composeGateway } from '@crucible/gateway';
import { ParserPool, composeWorker, drainNotice } from '@crucible/worker';
import { loadAllInOneSettings } from './env.js';
import { readOrCreateSecret } from './secret.js';

/**
 * All of Crucible in one process on one port: the API, the WebSocket gateway at /ws and a worker,
 * composed from the same apps that run separately in distributed mode, each given the settings its
 * own loader reads (env.ts). Without DATABASE_URL and REDIS_URL it needs nothing installed
 * (embedded mode): PostgreSQL is PGlite with its files in the data folder, the queue is BullMQ on
 * that PostgreSQL, the bus and channel history live in memory.
 */
const env = loadConfigOrExit(() => loadAllInOneSettings());
const jwtSecret = loadConfigOrExit(() => env.jwtSecret ?? readOrCreateSecret(env.dataDir));
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
  max: env.worker.concurrency + env.worker.browserConcurrency + 10,
  onError: (err) => logger.warn({ err }, 'postgres client error'),
});
await migrateToLatest(db.kysely);
const onServiceError = (err: Error) => logger.warn({ err: err.message }, 'queue or bus error');
const backplane: Backplane =
  env.services.mode === 'embedded'
    ? await createEmbeddedBackplane({ databaseUrl, onError: onServiceError })
    : createRedisBackplane({
        url: env.services.redisUrl,
        prefix: env.prefix,
        connectionLeaseMs: env.gateway.leaseMs,
        onError: onServiceError,
      });
const tokens = createTokenService(jwtSecret);
const cache = await createBackplaneCache(backplane.cacheStack, {
  prefix: cachePrefix(env.prefix),
  jitter: 0.1,
  onError: (err) => logger.warn({ err }, 'cache degraded'),
});

// One /metrics for the one process: the API's and the gateway's series side by side.
const registry = createMetricsRegistry('all-in-one');
const app = await composeApi(
  { db, backplane, tokens, cache },
  {
    loggerInstance: logger as FastifyBaseLogger,
    dashboardDir: DEFAULT_DASHBOARD_DIR,
    registry,
    queueBoard: { secret: jwtSecret },
    metricsToken: env.metricsToken,
  },
  env.api,
);
await composeGateway(
  app,
  // Sockets get what the worker's drain leaves of the shutdown bound to finish their close handshake.
  { db, backplane, tokens, metrics: registry, shutdownGraceMs: proc.shutdownTimeoutMs - drainTimeoutMs },
  env.gateway,
);
// Pages are parsed in threads: one hostile page must not freeze the API and gateway beside the worker.
const parser = new ParserPool();
const worker = composeWorker(
  { db, backplane, cache, logger: logger.child({ app: 'worker' }), parser, drainTimeoutMs },
  env.worker,
);
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
  env.api.registration
    ? `registration: ${env.api.registration} (REGISTRATION)`
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
