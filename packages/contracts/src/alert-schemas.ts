import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { WorkspaceQueryParam } from './api-schemas.js';
import {
  ALERT_REMIND_MIN_MINUTES,
  ALERT_RUNS_DEFAULT,
  ALERT_RUNS_MAX,
  ALERT_RUNS_MIN,
  IncidentStatuses,
} from './alerts.js';
import { DeliveryStatusSchema, SeveritySchema } from './notification-schemas.js';
import { SystemAlertKinds, SystemAlertStatuses } from './system-alerts.js';

/** Request and response schemas of alert rules and incidents (DESIGN.md, "Alerts and notifications"). */

const Id = Type.String({ format: 'uuid' });
const DateTime = Type.String({ format: 'date-time' });
const NullableDateTime = Type.Union([DateTime, Type.Null()]);
const Runs = Type.Integer({ minimum: ALERT_RUNS_MIN, maximum: ALERT_RUNS_MAX, default: ALERT_RUNS_DEFAULT });

/** One monitor of the workspace, or all of them (those made later too). */
export const AlertTarget = Type.Union([
  Type.Object({ monitorId: Id }, { additionalProperties: false }),
  Type.Object({ allMonitors: Type.Literal(true) }, { additionalProperties: false }),
]);
export type AlertTarget = Static<typeof AlertTarget>;

/** `down`: the run is down; `threshold`: the run's metric breaks the expression (`"latency.p95 < 500"`). */
export const AlertConditionSchema = Type.Union([
  Type.Object({ kind: Type.Literal('down') }, { additionalProperties: false }),
  Type.Object(
    { kind: Type.Literal('threshold'), expression: Type.String({ minLength: 1, maxLength: 200 }) },
    { additionalProperties: false },
  ),
]);

export const AlertRuleCreate = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    target: AlertTarget,
    condition: AlertConditionSchema,
    failAfter: Type.Optional(Runs),
    recoverAfter: Type.Optional(Runs),
    remindEveryMinutes: Type.Optional(
      Type.Union([Type.Integer({ minimum: ALERT_REMIND_MIN_MINUTES, maximum: 7 * 24 * 60 }), Type.Null()]),
    ),
    severity: SeveritySchema,
    channelIds: Type.Array(Id, { maxItems: 50, uniqueItems: true }),
  },
  { additionalProperties: false },
);
export type AlertRuleCreate = Static<typeof AlertRuleCreate>;

/** `PATCH /api/alert-rules/:id`: any field; `channelIds` replaces the list. */
export const AlertRuleUpdate = Type.Partial(AlertRuleCreate, {
  additionalProperties: false,
  minProperties: 1,
});
export type AlertRuleUpdate = Static<typeof AlertRuleUpdate>;

export const AlertRuleView = Type.Object({
  id: Type.String(),
  workspaceId: Type.String(),
  name: Type.String(),
  target: Type.Union([
    Type.Object({ monitorId: Type.String() }),
    Type.Object({ allMonitors: Type.Literal(true) }),
  ]),
  condition: AlertConditionSchema,
  failAfter: Type.Integer(),
  recoverAfter: Type.Integer(),
  remindEveryMinutes: Type.Union([Type.Integer(), Type.Null()]),
  severity: SeveritySchema,
  channelIds: Type.Array(Type.String()),
  createdAt: DateTime,
  updatedAt: DateTime,
});
export type AlertRuleView = Static<typeof AlertRuleView>;
export const AlertRulesResponse = Type.Object({ items: Type.Array(AlertRuleView) });
export const AlertRuleParams = Type.Object({ id: Id });

export const IncidentStatusSchema = Type.Union(IncidentStatuses.map((s) => Type.Literal(s)));

export const IncidentView = Type.Object({
  id: Type.String(),
  workspaceId: Type.String(),
  key: Type.String(),
  ruleId: Type.Union([Type.String(), Type.Null()]),
  ruleName: Type.String(),
  monitorId: Type.Union([Type.String(), Type.Null()]),
  monitorName: Type.String(),
  severity: SeveritySchema,
  status: IncidentStatusSchema,
  openedAt: DateTime,
  acknowledgedAt: NullableDateTime,
  acknowledgedBy: Type.Union([Type.String(), Type.Null()]),
  resolvedAt: NullableDateTime,
  /** A user's id if someone resolved it; null if its runs did (or it is open). */
  resolvedBy: Type.Union([Type.String(), Type.Null()]),
  reminders: Type.Integer(),
});
export type IncidentView = Static<typeof IncidentView>;

export const IncidentsQuery = Type.Object(
  {
    status: Type.Optional(IncidentStatusSchema),
    /** Only this monitor's incidents. */
    monitorId: Type.Optional(Id),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    workspace: WorkspaceQueryParam,
  },
  { additionalProperties: false },
);
export const IncidentsResponse = Type.Object({
  items: Type.Array(IncidentView),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export const IncidentParams = Type.Object({ id: Id });

/** `GET /api/incidents/stats`: the range, ISO 8601 instants (checked by the API: 400 `INVALID_RANGE`). */
export const IncidentStatsQuery = Type.Object(
  {
    from: Type.String({ minLength: 1, maxLength: 64 }),
    to: Type.String({ minLength: 1, maxLength: 64 }),
    workspace: WorkspaceQueryParam,
  },
  { additionalProperties: false },
);
export type IncidentStatsQuery = Static<typeof IncidentStatsQuery>;

/** One rule's or one monitor's incidents in the range; durations in milliseconds. */
const IncidentStatsFigures = {
  /** Incidents opened in the range. */
  incidents: Type.Integer(),
  /** Open to resolved (to now while unresolved) of every incident, clipped to the range. */
  timeDownMs: Type.Integer(),
  /** Mean opened → acknowledged of those opened in the range and acknowledged; null: none. */
  mttaMs: Type.Union([Type.Integer(), Type.Null()]),
  /** Mean opened → resolved of those opened in the range and resolved; null: none. */
  mttrMs: Type.Union([Type.Integer(), Type.Null()]),
  /** Deliveries delivered / failed of notifications written in the range that told of its incidents. */
  notificationsSent: Type.Integer(),
  notificationsFailed: Type.Integer(),
};
export const IncidentStatsResponse = Type.Object({
  from: DateTime,
  to: DateTime,
  /** `ruleId` null: a deleted rule (its incidents keep its name). */
  rules: Type.Array(
    Type.Object({
      ruleId: Type.Union([Type.String(), Type.Null()]),
      ruleName: Type.String(),
      ...IncidentStatsFigures,
    }),
  ),
  monitors: Type.Array(
    Type.Object({
      monitorId: Type.Union([Type.String(), Type.Null()]),
      monitorName: Type.String(),
      ...IncidentStatsFigures,
    }),
  ),
});
export type IncidentStatsResponse = Static<typeof IncidentStatsResponse>;

/** A run that opened or resolved the incident. */
const IncidentRun = Type.Object({
  testId: Type.String(),
  scheduledFor: NullableDateTime,
  state: Type.Union([Type.String(), Type.Null()]),
  completedAt: NullableDateTime,
});

/** `GET /api/incidents/:id`: the incident and its timeline. */
export const IncidentDetail = Type.Composite([
  IncidentView,
  Type.Object({
    openedBy: Type.Array(IncidentRun),
    resolvedByRuns: Type.Array(IncidentRun),
    /** Every notification that told of it (a grouped one tells of several), oldest first, with its deliveries' attempts. */
    notifications: Type.Array(
      Type.Object({
        eventId: Type.String(),
        type: Type.String(),
        createdAt: DateTime,
        deliveries: Type.Array(
          Type.Object({
            deliveryId: Type.String(),
            channelId: Type.String(),
            status: DeliveryStatusSchema,
            attempts: Type.Array(
              Type.Object({
                attempt: Type.Integer(),
                status: DeliveryStatusSchema,
                responseStatus: Type.Union([Type.Integer(), Type.Null()]),
                error: Type.Union([Type.String(), Type.Null()]),
                durationMs: Type.Union([Type.Integer(), Type.Null()]),
                at: DateTime,
              }),
            ),
          }),
        ),
      }),
    ),
  }),
]);
export type IncidentDetail = Static<typeof IncidentDetail>;

/** One system alert (`SystemAlertData`): the item of `GET /api/admin/system-alerts`. */
export const SystemAlertView = Type.Object({
  id: Id,
  key: Type.String(),
  kind: Type.Union(SystemAlertKinds.map((k) => Type.Literal(k))),
  status: Type.Union(SystemAlertStatuses.map((s) => Type.Literal(s))),
  severity: SeveritySchema,
  title: Type.String(),
  message: Type.String(),
  details: Type.Record(Type.String(), Type.Unknown()),
  startedAt: DateTime,
  firedAt: DateTime,
  resolvedAt: NullableDateTime,
  ownerId: Type.Union([Id, Type.Null()]),
});
export const SystemAlertsQuery = Type.Object(
  {
    /** `firing`: the current ones; `resolved`: the past ones; neither: both. */
    status: Type.Optional(Type.Union(SystemAlertStatuses.map((s) => Type.Literal(s)))),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);
export const SystemAlertsResponse = Type.Object({
  /** Newest first (by when each was told). */
  items: Type.Array(SystemAlertView),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
