import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { RunTestBody, VerdictSchema, WorkspaceQueryParam } from './api-schemas.js';

/** Request and response schemas of monitors, maintenance windows and status pages (DESIGN.md, "Monitors"). */

const Id = Type.String({ format: 'uuid' });
const Name = Type.String({ minLength: 1, maxLength: 200 });
const DateTime = Type.String({ format: 'date-time' });
const NullableDateTime = Type.Union([DateTime, Type.Null()]);

/** Every N seconds (at least `MONITOR_MIN_INTERVAL_SECONDS`), slots aligned to the Unix epoch. */
export const EverySchedule = Type.Object(
  { everySeconds: Type.Integer({ minimum: 1, maximum: 31 * 24 * 3600 }) },
  { additionalProperties: false, title: 'interval' },
);
/** A standard 5-field cron expression in an IANA time zone (default UTC). */
export const CronSchedule = Type.Object(
  {
    cron: Type.String({ minLength: 1, maxLength: 200 }),
    timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  { additionalProperties: false, title: 'cron' },
);
export const MonitorScheduleSchema = Type.Union([EverySchedule, CronSchedule]);

/** `POST /api/monitors`: `test` is exactly a `POST /api/test/run` body, validated the same way. */
export const MonitorCreate = Type.Object(
  {
    name: Name,
    test: RunTestBody,
    schedule: MonitorScheduleSchema,
    enabled: Type.Optional(Type.Boolean({ default: true })),
  },
  { additionalProperties: false },
);
export type MonitorCreate = Static<typeof MonitorCreate>;

/** `PATCH /api/monitors/:id`: any field; a new schedule takes effect from its next slot. */
export const MonitorUpdate = Type.Partial(MonitorCreate, { additionalProperties: false });
export type MonitorUpdate = Static<typeof MonitorUpdate>;

/** A check's name in its checks file: what makes `crucible deploy` find the monitor it made. */
const CodeKey = Type.String({ minLength: 1, maxLength: 200 });

/** One monitor of a checks file, as `crucible deploy` sends it. */
export const MonitorDeployItem = Type.Object(
  {
    codeKey: CodeKey,
    name: Name,
    test: RunTestBody,
    schedule: MonitorScheduleSchema,
    /** Absent: a new monitor is enabled and an existing one keeps its state (paused by hand stays paused). */
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type MonitorDeployItem = Static<typeof MonitorDeployItem>;

/**
 * `POST /api/monitors/deploy`: makes the workspace's monitors as code match `monitors` (created,
 * updated, left alone when equal); with `prune`, deletes those made as code that are not listed —
 * never a monitor made by hand; with `dryRun`, only says what it would do.
 */
export const MonitorDeploy = Type.Object(
  {
    monitors: Type.Array(MonitorDeployItem, { maxItems: 1000 }),
    /** @defaultValue false */
    prune: Type.Optional(Type.Boolean()),
    /** @defaultValue false */
    dryRun: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type MonitorDeploy = Static<typeof MonitorDeploy>;

export const MonitorDeployAction = Type.Union([
  Type.Literal('create'),
  Type.Literal('update'),
  Type.Literal('unchanged'),
  Type.Literal('delete'),
  /** Made as code, not in the request, and kept because `prune` was not asked. */
  Type.Literal('kept'),
]);
export type MonitorDeployAction = Static<typeof MonitorDeployAction>;

export const MonitorDeployResult = Type.Object({
  dryRun: Type.Boolean(),
  /** The request's monitors in its order, then those made as code it does not list, by name. */
  changes: Type.Array(
    Type.Object({
      codeKey: Type.String(),
      action: MonitorDeployAction,
      /** The monitor's id; null for one a dry run would create. */
      id: Type.Union([Type.String(), Type.Null()]),
      name: Type.String(),
      /** What an update changes: `name`, `test`, `schedule`, `enabled`. */
      changed: Type.Array(Type.String()),
    }),
  ),
});
export type MonitorDeployResult = Static<typeof MonitorDeployResult>;

export const MonitorParams = Type.Object({ id: Id });

const StateSchema = Type.Union([Type.Literal('up'), Type.Literal('down'), Type.Literal('degraded')]);
export const MonitorStatusSchema = Type.Union([
  StateSchema,
  Type.Literal('paused'),
  Type.Literal('maintenance'),
  Type.Literal('pending'),
]);

/** A monitor as its workspace sees it. */
export const MonitorView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  test: Type.Record(Type.String(), Type.Unknown()),
  schedule: Type.Record(Type.String(), Type.Unknown()),
  enabled: Type.Boolean(),
  status: MonitorStatusSchema,
  /** The next slot it will run at; null while paused. */
  nextRunAt: NullableDateTime,
  /** Set for a monitor made by `crucible deploy`: the check's name in its file. */
  codeKey: Type.Union([Type.String(), Type.Null()]),
  createdAt: DateTime,
  updatedAt: DateTime,
  lastRun: Type.Union([
    Type.Object({
      testId: Type.String(),
      scheduledFor: DateTime,
      state: StateSchema,
      completedAt: NullableDateTime,
    }),
    Type.Null(),
  ]),
  /** Up (or degraded) runs over finished runs, in percent; null without a finished run in the period. */
  uptime24h: Type.Union([Type.Number(), Type.Null()]),
  uptime30d: Type.Union([Type.Number(), Type.Null()]),
  /** The type's key metric (`KEY_METRIC`): its last value and its values over 24 h, oldest first. */
  keyMetric: Type.Union([
    Type.Object({
      name: Type.String(),
      last: Type.Union([Type.Number(), Type.Null()]),
      series: Type.Array(Type.Object({ t: DateTime, v: Type.Number() })),
    }),
    Type.Null(),
  ]),
});
export type MonitorView = Static<typeof MonitorView>;

export const MonitorsResponse = Type.Object({ items: Type.Array(MonitorView) });

export const MonitorRunsQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    workspace: WorkspaceQueryParam,
  },
  { additionalProperties: false },
);

/** One slot of a monitor, newest first: a run (a test) or a missed or skipped slot. */
export const MonitorRunView = Type.Object({
  testId: Type.Union([Type.String(), Type.Null()]),
  scheduledFor: DateTime,
  outcome: Type.Union([Type.Literal('run'), Type.Literal('missed'), Type.Literal('skipped')]),
  /** Why a slot was skipped (`maintenance`). */
  reason: Type.Union([Type.String(), Type.Null()]),
  /** The test's status; null for a missed or skipped slot. */
  status: Type.Union([Type.String(), Type.Null()]),
  verdict: VerdictSchema,
  /** What the run says of the monitor once finished. */
  state: Type.Union([StateSchema, Type.Null()]),
  startedAt: NullableDateTime,
  completedAt: NullableDateTime,
  /** The result's metrics (`{name: {value, unit}}`), or null. */
  metrics: Type.Unknown(),
});
export type MonitorRunView = Static<typeof MonitorRunView>;

export const MonitorRunsResponse = Type.Object({
  items: Type.Array(MonitorRunView),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

export const MonitorRunAccepted = Type.Object({
  testId: Type.String(),
  scheduledFor: DateTime,
  status: Type.Literal('queued'),
});

/** `POST /api/maintenance-windows`: once (`startsAt`–`endsAt`) or recurring (`cron` + `durationMinutes`). */
export const MaintenanceWindowCreate = Type.Object(
  {
    name: Name,
    monitorIds: Type.Union([Type.Array(Id, { minItems: 1, maxItems: 1000 }), Type.Literal('all')]),
    startsAt: Type.Optional(DateTime),
    endsAt: Type.Optional(DateTime),
    cron: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    durationMinutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 24 * 60 })),
    timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type MaintenanceWindowCreate = Static<typeof MaintenanceWindowCreate>;

/**
 * `PATCH /api/maintenance-windows/:id`: any field. Times given replace the window's times whole
 * (a one-off window becomes recurring with `cron` + `durationMinutes`, and back).
 */
export const MaintenanceWindowUpdate = Type.Partial(MaintenanceWindowCreate, { additionalProperties: false });
export type MaintenanceWindowUpdate = Static<typeof MaintenanceWindowUpdate>;
export const MaintenanceWindowParams = Type.Object({ id: Id });

export const MaintenanceWindowView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  monitorIds: Type.Union([Type.Array(Type.String()), Type.Literal('all')]),
  startsAt: NullableDateTime,
  endsAt: NullableDateTime,
  cron: Type.Union([Type.String(), Type.Null()]),
  durationMinutes: Type.Union([Type.Integer(), Type.Null()]),
  timezone: Type.Union([Type.String(), Type.Null()]),
  /** Whether the window is open now. */
  active: Type.Boolean(),
  createdAt: DateTime,
});
export type MaintenanceWindowView = Static<typeof MaintenanceWindowView>;
export const MaintenanceWindowsResponse = Type.Object({ items: Type.Array(MaintenanceWindowView) });

/** `POST /api/status-pages`: a public, read-only page of chosen monitors at `/status/:slug`. */
export const StatusPageCreate = Type.Object(
  {
    slug: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{1,62}$' }),
    title: Type.String({ minLength: 1, maxLength: 200 }),
    monitorIds: Type.Array(Id, { maxItems: 100 }),
    public: Type.Optional(Type.Boolean({ default: true })),
    /** Show each monitor's target URL on the page. @defaultValue false */
    showUrls: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false },
);
export type StatusPageCreate = Static<typeof StatusPageCreate>;

/** `PATCH /api/status-pages/:id`: any field. */
export const StatusPageUpdate = Type.Partial(StatusPageCreate, { additionalProperties: false });
export type StatusPageUpdate = Static<typeof StatusPageUpdate>;

export const StatusPageView = Type.Object({
  id: Type.String(),
  slug: Type.String(),
  title: Type.String(),
  monitorIds: Type.Array(Type.String()),
  public: Type.Boolean(),
  showUrls: Type.Boolean(),
  createdAt: DateTime,
});
export type StatusPageView = Static<typeof StatusPageView>;
export const StatusPagesResponse = Type.Object({ items: Type.Array(StatusPageView) });
export const StatusPageParams = Type.Object({ id: Id });
/** `/status/:slug`, or `/status/:slug.json` for the JSON form. */
export const PublicStatusParams = Type.Object({ slug: Type.String({ minLength: 1, maxLength: 68 }) });

/** `GET /status/:slug`: what anyone may read — names, states, uptime; no ids or URLs unless opted in. */
export const PublicStatusPage = Type.Object({
  title: Type.String(),
  /** The worst state among the monitors: `up`, `degraded`, `down` (or `maintenance`). */
  overall: Type.String(),
  monitors: Type.Array(
    Type.Object({
      name: Type.String(),
      status: MonitorStatusSchema,
      url: Type.Optional(Type.String()),
      uptime90d: Type.Union([Type.Number(), Type.Null()]),
      /** One bar per day, oldest first: up runs over finished runs that day, in percent (null: none). */
      days: Type.Array(
        Type.Object({ date: Type.String(), uptime: Type.Union([Type.Number(), Type.Null()]) }),
      ),
    }),
  ),
  /**
   * Incidents of the page's monitors not resolved yet (open or acknowledged), oldest first: the
   * monitor's name, the alert rule's name as `title`, and when it opened.
   */
  incidents: Type.Array(Type.Object({ monitor: Type.String(), title: Type.String(), since: DateTime })),
  generatedAt: DateTime,
});
export type PublicStatusPage = Static<typeof PublicStatusPage>;

/**
 * `POST /api/admin/maintenance`: an instance admin announces platform maintenance to every signed-in
 * user (`system:maintenance:start` on `system-maintenance`).
 */
export const PlatformMaintenanceStart = Type.Object(
  {
    message: Type.String({ minLength: 1, maxLength: 500 }),
    /** When it is expected to end, if known. */
    until: Type.Optional(DateTime),
  },
  { additionalProperties: false },
);
export type PlatformMaintenanceStart = Static<typeof PlatformMaintenanceStart>;

/** The platform maintenance under way, or null. */
export const PlatformMaintenanceView = Type.Object({
  maintenance: Type.Union([
    Type.Object({ id: Type.String(), message: Type.String(), startedAt: DateTime, until: NullableDateTime }),
    Type.Null(),
  ]),
});
