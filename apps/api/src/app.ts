import Fastify from 'fastify';
import type { Registry } from 'prom-client';
import type { FastifyBaseLogger, FastifyInstance, FastifyServerOptions } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { sql } from 'kysely';
import {
  createMetricsRegistry,
  registerHealthRoutes,
  requestLogController,
  registerQueueMetrics,
} from '@crucible/shared';
import type { TokenService } from '@crucible/shared';
import { invalidatingEventLog } from '@crucible/shared/cache';
import type { Cache } from '@crucible/shared/cache';
import type { Backplane } from '@crucible/backplane';
import {
  ApiKeysRepository,
  InvitationsRepository,
  SessionsRepository,
  TestsRepository,
  UsersRepository,
  createAuthenticator,
  createCredentialUses,
  migrationsApplied,
} from '@crucible/db';
import type { Db } from '@crucible/db';
import type { Allowlist } from '@crucible/shared/egress';
import { registerJsonParser, registerProblemHandler } from './errors.js';
import { cachePlugin } from './plugins/cache.js';
import { registerDashboard } from './plugins/dashboard.js';
import { registerOpenApi } from './plugins/openapi.js';
import { registerQueueBoard } from './plugins/queue-board.js';
import type { QueueBoardOptions } from './plugins/queue-board.js';
import packageJson from '../package.json' with { type: 'json' };
import { adminRoutes } from './routes/admin.routes.js';
import { authRoutes } from './routes/auth.routes.js';
import { sessionsRoutes } from './routes/sessions.routes.js';
import { testsRoutes } from './routes/tests.routes.js';
import { createAuthThrottle } from './services/auth-throttle.js';
import type { AuthThrottleOptions } from './services/auth-throttle.js';
import { createSessionStarter } from './services/sessions.js';
import { createTestsService } from './services/tests.service.js';
import type { PositionOptions } from './services/tests.service.js';
import type { GroupCommitOptions } from '@crucible/shared';
import type { RegistrationMode } from '@crucible/shared/api';

export interface ApiDeps {
  db: Db;
  /** The queue, event log, bus and their readiness checks, of whichever mode the process runs in. */
  backplane: Pick<
    Backplane,
    | 'queue'
    | 'eventLog'
    | 'eventLogOrderedWithQueue'
    | 'pubsub'
    | 'presence'
    | 'stressConnections'
    | 'checks'
    | 'tickets'
    | 'createRateLimiter'
  >;
  tokens: TokenService;
  /** Private hosts/ranges tests may target (`TARGET_ALLOWLIST`). @defaultValue none */
  targetAllowlist?: Allowlist;
  /**
   * The deployment's root cache: memory + Redis tiers with a bus, so that every api process drops
   * a response as soon as any process invalidates it (memory only with an in-process bus in embedded mode).
   */
  cache: Cache;
  /**
   * How long a credential's user row is remembered (DESIGN.md, "Auth"): a revoked key or a changed
   * account takes effect within it everywhere, at once in the process that revoked.
   * @defaultValue 5000
   */
  authCacheTtlMs?: number;
  /** How concurrent submissions are grouped into one INSERT and one addBulk. @defaultValue see GroupCommit */
  groupCommit?: GroupCommitOptions;
  /** When a batch's queue positions are counted afresh. @defaultValue see PositionOptions */
  positions?: PositionOptions;
}

export interface BuildApiOptions {
  logger?: FastifyServerOptions['logger'];
  /** A ready-made logger (the process's), used instead of `logger` options. */
  loggerInstance?: FastifyBaseLogger;
  /**
   * Mounts bull-board at /admin/queues for admins, its session cookie signed with a key derived
   * from this secret (JWT_SECRET). It reads the backplane's queue: BullMQ on Redis, or on
   * PostgreSQL in embedded mode. @defaultValue undefined (no board)
   */
  queueBoard?: { secret: string };
  /** Folder of the built dashboard to serve at `/`. @defaultValue undefined (no dashboard) */
  dashboardDir?: string;
  /** Where `/metrics` reads from; all-in-one shares it with the gateway. @defaultValue a new registry labelled `app="api"` */
  registry?: Registry;
  /**
   * Who may register (`REGISTRATION`): `open`, `invite` (with an admin's invitation) or `closed`.
   * @defaultValue undefined: open until the first account exists (it becomes the admin), then invite
   */
  registration?: RegistrationMode;
  /** Throttling of sign-in, registration and API-key creation. @defaultValue AUTH_THROTTLE_DEFAULTS */
  authThrottle?: Partial<AuthThrottleOptions>;
  /**
   * Which proxies' `X-Forwarded-For` names the client (Fastify's `trustProxy`): the throttles count
   * client addresses, which behind a proxy are all the proxy's otherwise. @defaultValue false
   */
  trustProxy?: FastifyServerOptions['trustProxy'];
  /** `METRICS_TOKEN`: `/metrics` asks for it as a bearer token. @defaultValue undefined (open) */
  metricsToken?: string;
}

/** Tokens and API keys never reach the logs. */
export const LOG_REDACT = [
  'req.headers.authorization',
  'req.query.token',
  'req.query.ticket',
  'req.headers.cookie',
];

/** Builds the API (routes, auth, errors, health) without listening, so it can be composed or injected. */
export async function buildApi(deps: ApiDeps, options: BuildApiOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.loggerInstance
      ? { loggerInstance: options.loggerInstance }
      : { logger: options.logger ?? false }),
    logController: requestLogController(),
    bodyLimit: 1024 * 1024,
    trustProxy: options.trustProxy ?? false,
    ajv: {
      customOptions: {
        removeAdditional: false,
        coerceTypes: 'array',
        useDefaults: true,
        // A union tagged by a property (the test types) is checked on the branch its tag picks;
        // `verbose` hands the error handler the schema, to name the allowed tags.
        discriminator: true,
        verbose: true,
      },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.decorateRequest('user', null);
  registerProblemHandler(app);
  registerJsonParser(app);
  // First: the document is built from the routes registered after it.
  await registerOpenApi(app, packageJson.version);

  const users = new UsersRepository(deps.db.kysely);
  const apiKeys = new ApiKeysRepository(deps.db.kysely);
  const sessions = new SessionsRepository(deps.db.kysely);
  const tests = new TestsRepository(deps.db.kysely);
  // Last use of keys and sessions, written off the requests' path; what is noted goes out on close.
  const uses = createCredentialUses({
    apiKeys,
    sessions,
    onError: (err) => app.log.warn({ err }, 'recording credential use failed'),
  });
  app.addHook('onClose', async () => uses.flush());
  const authenticate = createAuthenticator({
    apiKeys,
    sessions,
    tokens: deps.tokens,
    uses,
    cacheTtlMs: deps.authCacheTtlMs ?? 5_000,
  });
  const service = createTestsService({
    tests,
    queue: deps.backplane.queue,
    // Every test event the API publishes first drops the test's cached responses.
    eventLog: invalidatingEventLog(deps.backplane.eventLog, deps.cache),
    pubsub: deps.backplane.pubsub,
    presence: deps.backplane.presence,
    stressConnections: deps.backplane.stressConnections,
    log: app.log,
    targetAllowlist: deps.targetAllowlist,
    groupCommit: deps.groupCommit,
    eventLogOrderedWithQueue: deps.backplane.eventLogOrderedWithQueue,
    positions: deps.positions,
  });
  app.addHook('onClose', async () => service.close());

  const registry = options.registry ?? createMetricsRegistry('api');
  registerQueueMetrics(registry, deps.backplane.queue);
  let migrated = false;
  await registerHealthRoutes(app, {
    registry,
    metricsToken: options.metricsToken,
    checks: {
      database: async () => {
        await sql`select 1`.execute(deps.db.kysely);
        return true;
      },
      migrations: async () => (migrated ||= await migrationsApplied(deps.db.kysely)),
      ...deps.backplane.checks,
    },
  });
  // Before the routes: it wires itself into every route declared with `config.cache`.
  await app.register(cachePlugin, { cache: deps.cache, registry });
  await app.register(authRoutes, {
    users,
    apiKeys,
    authenticate,
    tickets: deps.backplane.tickets,
    throttle: createAuthThrottle(deps.backplane, registry, options.authThrottle),
    registration: options.registration,
    startSession: createSessionStarter({ sessions, tokens: deps.tokens }),
  });
  await app.register(sessionsRoutes, { authenticate, sessions });
  await app.register(testsRoutes, { authenticate, service });
  await app.register(adminRoutes, {
    authenticate,
    cache: deps.cache,
    users,
    invitations: new InvitationsRepository(deps.db.kysely),
  });
  if (options.queueBoard) {
    await registerQueueBoard(app, {
      queue: deps.backplane.queue as QueueBoardOptions['queue'],
      authenticate,
      users,
      secret: options.queueBoard.secret,
    });
  }
  if (options.dashboardDir) await registerDashboard(app, options.dashboardDir);
  return app;
}
