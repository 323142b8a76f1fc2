import { Type } from '@sinclair/typebox';
import type { Static, TSchema } from '@sinclair/typebox';
import { DiscriminatedUnion, WorkspaceQueryParam } from './api-schemas.js';
import { ChannelTypes, DeliveryStatuses, NotificationEventTypes, Severities } from './notifications.js';
import type { ChannelType } from './notifications.js';

/** Request and response schemas of notification channels and in-app notifications (DESIGN.md, "Alerts and notifications"). */

const HttpUrl = Type.String({ minLength: 1, maxLength: 2048, pattern: '^https?://' });
const Secret = Type.String({ minLength: 1, maxLength: 500 });
const Email = Type.String({ format: 'email', maxLength: 254 });

/** Each channel type's `config`. */
export const ChannelConfigSchemas = {
  /** `{}`: the channel's creator; `userIds`: those members of the workspace. */
  'in-app': Type.Object(
    { userIds: Type.Optional(Type.Array(Type.String({ format: 'uuid' }), { minItems: 1, maxItems: 100 })) },
    { additionalProperties: false },
  ),
  email: Type.Object(
    { to: Type.Union([Email, Type.Array(Email, { minItems: 1, maxItems: 50 })]) },
    { additionalProperties: false },
  ),
  webhook: Type.Object({ url: HttpUrl }, { additionalProperties: false }),
  slack: Type.Object({ webhookUrl: HttpUrl }, { additionalProperties: false }),
  discord: Type.Object({ webhookUrl: HttpUrl }, { additionalProperties: false }),
  teams: Type.Object({ webhookUrl: HttpUrl }, { additionalProperties: false }),
  telegram: Type.Object(
    { botToken: Secret, chatId: Type.Union([Type.String({ minLength: 1, maxLength: 100 }), Type.Integer()]) },
    { additionalProperties: false },
  ),
  pagerduty: Type.Object({ routingKey: Secret }, { additionalProperties: false }),
  opsgenie: Type.Object({ apiKey: Secret }, { additionalProperties: false }),
} as const satisfies Record<ChannelType, TSchema>;

export type ChannelConfigs = { [T in ChannelType]: Static<(typeof ChannelConfigSchemas)[T]> };
export type ChannelConfig = ChannelConfigs[ChannelType];

/** The config fields that are credentials: never answered back whole. */
export const SECRET_CONFIG_FIELDS: Partial<Record<ChannelType, readonly string[]>> = {
  slack: ['webhookUrl'],
  discord: ['webhookUrl'],
  teams: ['webhookUrl'],
  telegram: ['botToken'],
  pagerduty: ['routingKey'],
  opsgenie: ['apiKey'],
};

const TemplateText = Type.String({ maxLength: 10_000 });
/** One state's template: `title` (an email's subject), `body` (plain text), `html` (email only). */
export const NotificationTemplate = Type.Object(
  {
    title: Type.Optional(TemplateText),
    body: Type.Optional(TemplateText),
    html: Type.Optional(TemplateText),
  },
  { additionalProperties: false },
);
/** A channel's own templates, by state; a state or field left out uses the default. */
export const ChannelTemplates = Type.Partial(
  Type.Object(
    Object.fromEntries(NotificationEventTypes.map((t) => [t, NotificationTemplate])) as Record<
      (typeof NotificationEventTypes)[number],
      typeof NotificationTemplate
    >,
  ),
  { additionalProperties: false },
);
export type ChannelTemplates = Static<typeof ChannelTemplates>;

const Name = Type.String({ minLength: 1, maxLength: 100 });
export const ChannelTypeSchema = Type.Union(ChannelTypes.map((t) => Type.Literal(t)));
export const SeveritySchema = Type.Union(Severities.map((s) => Type.Literal(s)));
export const DeliveryStatusSchema = Type.Union(DeliveryStatuses.map((s) => Type.Literal(s)));

/** `POST /api/notification-channels`: one branch per type, picked by `type`. */
export const ChannelCreate = DiscriminatedUnion(
  'type',
  ChannelTypes.map((type) =>
    Type.Object(
      {
        name: Name,
        type: Type.Literal(type),
        config: ChannelConfigSchemas[type],
        templates: Type.Optional(ChannelTemplates),
      },
      { additionalProperties: false },
    ),
  ),
);
export type ChannelCreate = {
  [T in ChannelType]: {
    name: string;
    type: T;
    config: Static<(typeof ChannelConfigSchemas)[T]>;
    templates?: ChannelTemplates;
  };
}[ChannelType];

/** `PATCH …/:id`: `config` whole, checked against the channel's type; `enabled: true` re-enables one a 410 disabled. */
export const ChannelUpdate = Type.Object(
  {
    name: Type.Optional(Name),
    config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    templates: Type.Optional(ChannelTemplates),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type ChannelUpdate = Static<typeof ChannelUpdate>;

export const NotificationChannelParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
export const ChannelWorkspaceQuery = Type.Object(
  { workspace: WorkspaceQueryParam },
  { additionalProperties: false },
);

export const ChannelView = Type.Object({
  id: Type.String(),
  workspaceId: Type.String(),
  name: Type.String(),
  type: ChannelTypeSchema,
  /** As given, but credentials shortened to their last four characters (`…abcd`). */
  config: Type.Record(Type.String(), Type.Unknown()),
  templates: ChannelTemplates,
  /** False once a receiver answered 410 Gone, until re-enabled. */
  enabled: Type.Boolean(),
  disabledReason: Type.Union([Type.String(), Type.Null()]),
  /** Who made it: their notification preferences govern it (null: they left the deployment). */
  createdBy: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});
export type ChannelView = Static<typeof ChannelView>;

/** A new channel; a webhook's signing `secret` (`whsec_…`) is answered here once, never again. */
export const ChannelCreated = Type.Composite([
  ChannelView,
  Type.Object({ secret: Type.Optional(Type.String()) }),
]);
export const ChannelsResponse = Type.Object({ items: Type.Array(ChannelView) });

/** `POST …/:id/test`: the test notification's delivery and how its first attempt went. */
export const ChannelTestResult = Type.Object({
  deliveryId: Type.String(),
  eventId: Type.String(),
  status: DeliveryStatusSchema,
  responseStatus: Type.Union([Type.Integer(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  durationMs: Type.Union([Type.Integer(), Type.Null()]),
});

export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    workspace: WorkspaceQueryParam,
  },
  { additionalProperties: false },
);

/** One line of a channel's trail: a delivery written, or one attempt of it. */
export const DeliveryAttemptView = Type.Object({
  deliveryId: Type.String(),
  eventId: Type.String(),
  eventType: Type.String(),
  /** 0 for the line that records the delivery written (`pending`, `suppressed`). */
  attempt: Type.Integer(),
  status: DeliveryStatusSchema,
  responseStatus: Type.Union([Type.Integer(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  durationMs: Type.Union([Type.Integer(), Type.Null()]),
  at: Type.String({ format: 'date-time' }),
});
export const DeliveriesResponse = Type.Object({
  items: Type.Array(DeliveryAttemptView),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

export const NotificationView = Type.Object({
  id: Type.String(),
  workspaceId: Type.String(),
  title: Type.String(),
  body: Type.String(),
  severity: SeveritySchema,
  incidentId: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  readAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
export const NotificationsQuery = Type.Object(
  {
    unread: Type.Optional(Type.Boolean()),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);
export const NotificationsResponse = Type.Object({
  items: Type.Array(NotificationView),
  /** The caller's unread notifications, all of them (the bell's count). */
  unread: Type.Integer(),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export const NotificationParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
export const ReadAllResponse = Type.Object({ read: Type.Integer(), unread: Type.Integer() });

const ClockTime = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' });
/**
 * `PUT /api/notification-preferences` (and its answer): the caller's, applied to the channels they
 * created. Quiet hours hold non-critical notifications until they end; a channel's minimum
 * severity and a mute (non-critical) suppress them.
 */
export const NotificationPreferences = Type.Object(
  {
    quietHours: Type.Union([
      Type.Object(
        {
          start: ClockTime,
          end: ClockTime,
          /** An IANA time zone, e.g. `Europe/Paris`. */
          timezone: Type.String({ minLength: 1, maxLength: 64 }),
        },
        { additionalProperties: false },
      ),
      Type.Null(),
    ]),
    minSeverity: Type.Record(Type.String({ format: 'uuid' }), SeveritySchema, { maxProperties: 500 }),
    mutedUntil: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { additionalProperties: false },
);
export type NotificationPreferences = Static<typeof NotificationPreferences>;
