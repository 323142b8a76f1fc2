import Fastify from 'fastify';
import type { Registry } from 'prom-client';
import type { FastifyBaseLogger, FastifyInstance, FastifyServerOptions } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { sql } from 'kysely';
import { invalidatingEventLog } from '@crucible/cache';
import type { Cache } from '@crucible/cache';
import { DEFAULT_QUOTA_LIMITS } from '@crucible/contracts';
import type { QuotaLimits } from '@crucible/contracts';
import type { RegistrationMode } from '@crucible/contracts/api';
import { Egress } from '@crucible/egress';
import type { Allowlist } from '@crucible/egress';
import { Dispatcher, loadNotifySettings } from '@crucible/notify';
import type { NotifySettings } from '@crucible/notify';
import {
  createAuthenticator,
  createCredentialUses,
  createMetricsRegistry,
  registerHealthRoutes,
  registerQueueMetrics,
  requestLogController,
} from '@crucible/runtime';
import type { Authenticate, GroupCommitOptions, TokenService } from '@crucible/runtime';
import type { Backplane } from '@crucible/backplane';
import {
  ApiKeysRepository,
  AuditLogRepository,
  TestSharesRepository,
  MaintenanceWindowsRepository,
  MonitorsRepository,
  PlatformMaintenanceRepository,
  StatusPagesRepository,
  WorkspaceMembersRepository,
  WorkspacesRepository,
  InvitationsRepository,
  NotificationChannelsRepository,
  NotificationDeliveriesRepository,
  NotificationPreferencesRepository,
  NotificationsRepository,
  SessionsRepository,
  SystemAlertsRepository,
  TestArtifactsRepository,
  TestDispatchRepository,
  TestAttemptsRepository,
  TestsRepository,
  UsersRepository,
  WorkspaceQuotasRepository,
  migrationsApplied,
} from '@crucible/db';
import type { Db } from '@crucible/db';
import { fastifyTrustProxy } from './env.js';
import type { TrustProxy } from './env.js';
import { registerJsonParser, registerProblemHandler } from './errors.js';
import { cachePlugin } from './plugins/cache.js';
import { registerDashboard } from './plugins/dashboard.js';
import { registerOpenApi } from './plugins/openapi.js';
import { registerQueueBoard } from './plugins/queue-board.js';
import type { QueueBoardOptions } from './plugins/queue-board.js';
import packageJson from '../package.json' with { type: 'json' };
import { adminRoutes } from './routes/admin.routes.js';
import { apiKeysRoutes } from './routes/api-keys.routes.js';
import { authRoutes } from './routes/auth.routes.js';
import { metaRoutes } from './routes/meta.routes.js';
import { sessionsRoutes } from './routes/sessions.routes.js';
import { monitorsRoutes } from './routes/monitors.routes.js';
import { maintenanceWindowsRoutes } from './routes/maintenance-windows.routes.js';
import { publicStatusRoutes, statusPagesRoutes } from './routes/status-pages.routes.js';
import { testsRoutes } from './routes/tests.routes.js';
import { notificationsRoutes } from './routes/notifications.routes.js';
import { alertsRoutes } from './routes/alerts.routes.js';
import { workspacesRoutes } from './routes/workspaces.routes.js';
import { sharesRoutes } from './routes/shares.routes.js';
import { createAudit } from './services/audit.js';
import { createSharesService } from './services/shares.js';
import { createNotificationChannels } from './services/notification-channels.js';
import { createAlertRules, createIncidents } from './services/alerts.js';
import { startSystemAlertCheck } from './services/system-alerts.js';
import type { SystemAlertSettings } from './services/system-alerts.js';
import { createWorkspacesService } from './services/workspaces.js';
import { createMonitorsService } from './services/monitors/service.js';
import { createMaintenanceWindowsService } from './services/monitors/maintenance-windows.js';
import { createStatusPagesService } from './services/monitors/status-pages.js';
import { SUBMIT_WINDOW_SEC, createQuotas } from './services/quotas/quotas.js';
import type { QuotasService } from './services/quotas/quotas.js';
import { createPublish } from './services/tests/events.js';
import { createWorkspaceAccess } from './services/workspace-access.js';
import type { WorkspaceAccess } from './services/workspace-access.js';
import { createAuthThrottle } from './services/auth-throttle.js';
import type { AuthThrottleOptions } from './services/auth-throttle.js';
import { createSessionStarter } from './services/sessions.js';
import { createTestsService } from './services/tests/index.js';
import type { PositionOptions } from './services/tests/index.js';

export interface ApiDeps {
  db: Db;
  /** The queue, event log, bus and their readiness checks, of whichever mode the process runs in. */
  backplane: Pick<
    Backplane,
    | 'queue'
    | 'monitorQueue'
    | 'eventLog'
    | 'eventLogOrderedWithQueue'
    | 'pubsub'
    | 'presence'
    | 'stressConnections'
    | 'targetHosts'
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
  /**
   * The workers' lock duration (`WORKER_LOCK_DURATION_MS`): a running test not written for this long
   * is shown `stalled`, its worker presumed lost. @defaultValue DEFAULT_STALLED_AFTER_MS (30 s)
   */
  stalledAfterMs?: number;
  /** Providers' endpoints, SMTP and retry time of notifications (`loadNotifySettings`). @defaultValue every default */
  notify?: NotifySettings;
  /** The shortest interval a monitor may have (`MONITOR_MIN_INTERVAL_SECONDS`). @defaultValue 30 */
  monitorMinIntervalSeconds?: number;
  /** The workspaces' default quotas (`WORKSPACE_MAX_QUEUED`…). @defaultValue DEFAULT_QUOTA_LIMITS */
  quotaLimits?: QuotaLimits;
  /**
   * Checks the platform for system alerts every `checkMs` and sends them (its own dispatcher, for
   * system alerts only: they must not wait for the workers they may be about). Every process that
   * runs the api passes it (`composeApi`). @defaultValue undefined (no check)
   */
  systemAlerts?: SystemAlertSettings;
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
  trustProxy?: TrustProxy;
  /** `METRICS_TOKEN`: `/metrics` asks for it as a bearer token. @defaultValue undefined (open) */
  metricsToken?: string;
  /**
   * Where clients are told the gateway is (`PUBLIC_WS_URL`, `GET /api/meta`): an absolute `ws:`/`wss:`
   * URL, or a path on the api's own address. @defaultValue `/ws`
   */
  publicWsUrl?: string;
}

/** Tokens and API keys never reach the logs. */
export const LOG_REDACT = [
  'req.headers.authorization',
  'req.query.token',
  'req.query.ticket',
  'req.headers.cookie',
];

/** Workspaces, their members, invitations and audit log, and the tests' share links. */
async function registerTeamRoutes(
  app: FastifyInstance,
  deps: ApiDeps,
  shared: {
    authenticate: Authenticate;
    access: WorkspaceAccess;
    tests: TestsRepository;
    workspaces: WorkspacesRepository;
    members: WorkspaceMembersRepository;
    invitations: InvitationsRepository;
    quotas: QuotasService;
  },
): Promise<void> {
  const { authenticate, access, tests, workspaces, members, invitations, quotas } = shared;
  const auditLog = new AuditLogRepository(deps.db.kysely);
  const audit = createAudit(auditLog, app.log);
  const publish = createPublish(deps.backplane.eventLog, app.log);
  const shares = new TestSharesRepository(deps.db.kysely);
  await app.register(sharesRoutes, {
    authenticate,
    access,
    service: createSharesService({ shares, tests, publish, pubsub: deps.backplane.pubsub, audit }),
  });
  await app.register(workspacesRoutes, {
    authenticate,
    access,
    auditLog,
    service: createWorkspacesService({ workspaces, members, invitations, publish, audit, access }),
    quotas,
  });
}

/** The monitors' routes and services, their maintenance windows and status pages (DESIGN.md, "Monitors"). */
async function registerMonitors(
  app: FastifyInstance,
  deps: ApiDeps,
  shared: { authenticate: Authenticate; access: WorkspaceAccess; tests: TestsRepository },
): Promise<void> {
  const monitors = new MonitorsRepository(deps.db.kysely);
  const windows = createMaintenanceWindowsService({
    windows: new MaintenanceWindowsRepository(deps.db.kysely),
    monitors,
  });
  await app.register(maintenanceWindowsRoutes, { authenticate: shared.authenticate, access: shared.access, service: windows });
  const statusPages = createStatusPagesService({
    pages: new StatusPagesRepository(deps.db.kysely),
    monitors,
    inMaintenance: (rows) => windows.inMaintenance(rows),
    cache: deps.cache,
  });
  await app.register(statusPagesRoutes, { authenticate: shared.authenticate, access: shared.access, service: statusPages });
  await app.register(publicStatusRoutes, { service: statusPages });
  await app.register(monitorsRoutes, {
    authenticate: shared.authenticate,
    access: shared.access,
    service: createMonitorsService({
      monitors,
      inMaintenance: (rows) => windows.inMaintenance(rows),
      tests: shared.tests,
      queues: deps.backplane,
      publish: createPublish(deps.backplane.eventLog, app.log),
      targetAllowlist: deps.targetAllowlist,
      minIntervalSeconds: deps.monitorMinIntervalSeconds,
      log: app.log,
    }),
  });
}

/** Builds the API (routes, auth, errors, health) without listening, so it can be composed or injected. */
export async function buildApi(deps: ApiDeps, options: BuildApiOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.loggerInstance
      ? { loggerInstance: options.loggerInstance }
      : { logger: options.logger ?? false }),
    logController: requestLogController(),
    bodyLimit: 1024 * 1024,
    trustProxy: fastifyTrustProxy(options.trustProxy ?? false),
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
  app.decorateRequest('actor', null);
  registerProblemHandler(app);
  registerJsonParser(app);
  // First: the document is built from the routes registered after it.
  await registerOpenApi(app, packageJson.version);

  const users = new UsersRepository(deps.db.kysely);
  const apiKeys = new ApiKeysRepository(deps.db.kysely);
  const sessions = new SessionsRepository(deps.db.kysely);
  const tests = new TestsRepository(deps.db.kysely);
  const workspaces = new WorkspacesRepository(deps.db.kysely);
  const members = new WorkspaceMembersRepository(deps.db.kysely);
  const access = createWorkspaceAccess({ workspaces, members, cache: deps.cache });
  const audit = createAudit(new AuditLogRepository(deps.db.kysely), app.log);
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
  const { service, quotas } = createTestsAndQuotas(deps, tests, app.log, audit);
  app.addHook('onClose', async () => service.close());

  const registry = options.registry ?? createMetricsRegistry('api');
  registerQueueMetrics(registry, deps.backplane.queue.all);
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
  await app.register(metaRoutes, {
    version: packageJson.version,
    publicWsUrl: options.publicWsUrl ?? '/ws',
  });
  const throttle = createAuthThrottle(deps.backplane, registry, options.authThrottle);
  await app.register(authRoutes, {
    users,
    authenticate,
    tickets: deps.backplane.tickets,
    throttle,
    registration: options.registration,
    startSession: createSessionStarter({ sessions, tokens: deps.tokens }),
    audit,
    publish: createPublish(deps.backplane.eventLog, app.log),
  });
  await app.register(apiKeysRoutes, { authenticate, access, apiKeys, throttle, audit });
  await app.register(sessionsRoutes, { authenticate, sessions });
  await app.register(testsRoutes, { authenticate, access, service });
  await registerMonitors(app, deps, { authenticate, access, tests });
  const invitations = new InvitationsRepository(deps.db.kysely);
  await registerTeamRoutes(app, deps, {
    authenticate,
    access,
    tests,
    workspaces,
    members,
    invitations,
    quotas,
  });
  await registerNotifications(app, deps, { authenticate, access, members });
  await app.register(adminRoutes, {
    authenticate,
    cache: deps.cache,
    users,
    invitations,
    workspaces,
    quotas,
    audit,
    platformMaintenance: new PlatformMaintenanceRepository(deps.db.kysely),
    systemAlerts: new SystemAlertsRepository(deps.db.kysely),
    publish: createPublish(deps.backplane.eventLog, app.log),
  });
  if (options.queueBoard) {
    await registerQueueBoard(app, {
      queues: deps.backplane.queue.all as unknown as QueueBoardOptions['queues'],
      authenticate,
      users,
      secret: options.queueBoard.secret,
    });
  }
  if (options.dashboardDir) await registerDashboard(app, options.dashboardDir);
  return app;
}

/**
 * Notification channels, alert rules, incidents and in-app notifications. The api's first dispatcher is never started: it
 * sends only a channel's test notification, at once; the workers' dispatchers send everything else, but for system
 * alerts, which the api checks for and sends itself (with a second dispatcher) when `systemAlerts` is on.
 */
async function registerNotifications(
  app: FastifyInstance,
  deps: ApiDeps,
  shared: { authenticate: Authenticate; access: WorkspaceAccess; members: WorkspaceMembersRepository },
): Promise<void> {
  const settings = deps.notify ?? loadNotifySettings({});
  const dispatcher = new Dispatcher({
    db: deps.db.kysely,
    egress: new Egress({ allowlist: deps.targetAllowlist }),
    settings,
    eventLog: deps.backplane.eventLog,
    log: app.log,
  });
  app.addHook('onClose', async () => dispatcher.close());
  if (deps.systemAlerts) startSystemAlerts(app, deps, deps.systemAlerts, settings);
  await app.register(alertsRoutes, {
    authenticate: shared.authenticate,
    access: shared.access,
    rules: createAlertRules({ db: deps.db.kysely, settings }),
    incidents: createIncidents({ db: deps.db.kysely, settings }),
  });
  await app.register(notificationsRoutes, {
    authenticate: shared.authenticate,
    access: shared.access,
    notifications: new NotificationsRepository(deps.db.kysely),
    preferences: new NotificationPreferencesRepository(deps.db.kysely),
    channels: createNotificationChannels({
      channels: new NotificationChannelsRepository(deps.db.kysely),
      deliveries: new NotificationDeliveriesRepository(deps.db.kysely),
      members: shared.members,
      dispatcher,
      settings,
      targetAllowlist: deps.targetAllowlist,
    }),
  });
}

/** The system alerts' check of this process and the dispatcher that sends what it writes, closed with the api. */
function startSystemAlerts(
  app: FastifyInstance,
  deps: ApiDeps,
  systemAlerts: SystemAlertSettings,
  settings: NotifySettings,
): void {
  const sender = new Dispatcher({
    db: deps.db.kysely,
    egress: new Egress({ allowlist: deps.targetAllowlist }),
    settings,
    eventLog: deps.backplane.eventLog,
    log: app.log,
    eventTypes: ['system.alert.firing', 'system.alert.resolved'],
  });
  const check = startSystemAlertCheck({
    db: deps.db,
    presence: deps.backplane.presence,
    eventLog: deps.backplane.eventLog,
    settings: systemAlerts,
    retryForMs: settings.retryHours * 3_600_000,
    log: app.log,
  });
  // Once listening: a process that fails to start never checks nor sends.
  app.addHook('onReady', async () => {
    sender.start();
  });
  app.addHook('onClose', async () => {
    await check.close();
    await sender.close();
  });
}

/** The tests service and the workspaces' quotas it holds submissions to. */
function createTestsAndQuotas(
  deps: ApiDeps,
  tests: TestsRepository,
  log: FastifyBaseLogger,
  audit: ReturnType<typeof createAudit>,
) {
  const quotaRepository = new WorkspaceQuotasRepository(deps.db.kysely);
  const quotas = createQuotas({
    repository: quotaRepository,
    defaults: deps.quotaLimits ?? DEFAULT_QUOTA_LIMITS,
    // The limit is each workspace's own (overrides differ): the counter only counts, and the
    // quotas service compares.
    submissions: deps.backplane.createRateLimiter({
      name: 'workspace-submit',
      points: 2 ** 30,
      durationSec: SUBMIT_WINDOW_SEC,
    }),
  });
  const service = createTestsService({
    tests,
    quotas,
    quotaRepository,
    dispatch: new TestDispatchRepository(deps.db.kysely),
    attempts: new TestAttemptsRepository(deps.db.kysely),
    artifacts: new TestArtifactsRepository(deps.db.kysely),
    queue: deps.backplane.queue,
    // Every test event the API publishes first drops the test's cached responses.
    eventLog: invalidatingEventLog(deps.backplane.eventLog, deps.cache),
    pubsub: deps.backplane.pubsub,
    presence: deps.backplane.presence,
    stressConnections: deps.backplane.stressConnections,
    targetHosts: deps.backplane.targetHosts,
    log,
    targetAllowlist: deps.targetAllowlist,
    groupCommit: deps.groupCommit,
    eventLogOrderedWithQueue: deps.backplane.eventLogOrderedWithQueue,
    positions: deps.positions,
    stalledAfterMs: deps.stalledAfterMs,
    audit,
  });
  return { service, quotas };
}
