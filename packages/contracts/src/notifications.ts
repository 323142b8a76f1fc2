/**
 * Notification channels, deliveries and in-app notifications (DESIGN.md, "Alerts and
 * notifications"): the names every process and client agrees on. Browser-safe.
 */

import type { SystemAlertData } from './system-alerts.js';

/** Where a notification can go. */
export const ChannelTypes = [
  'in-app',
  'email',
  'webhook',
  'slack',
  'discord',
  'teams',
  'telegram',
  'pagerduty',
  'opsgenie',
] as const;
export type ChannelType = (typeof ChannelTypes)[number];

/**
 * What a notification is about: the `type` of a webhook's body, and the state a channel's template
 * is chosen by. Incidents (#24's rules) send the first four; `POST …/test` the fifth; system alerts
 * (DESIGN.md, "System alerts") the last two.
 */
export const NotificationEventTypes = [
  'incident.opened',
  'incident.reminder',
  'incident.acknowledged',
  'incident.resolved',
  'test.notification',
  'system.alert.firing',
  'system.alert.resolved',
] as const;
export type NotificationEventType = (typeof NotificationEventTypes)[number];
/** The states an incident is told in. */
export type IncidentEventType = Extract<NotificationEventType, `incident.${string}`>;
/** The states a system alert is told in. */
export type SystemAlertEventType = Extract<NotificationEventType, `system.${string}`>;

export const Severities = ['critical', 'warning', 'info'] as const;
export type Severity = (typeof Severities)[number];

/**
 * A delivery's state, and each line of a channel's trail: `pending` (written, not tried yet),
 * `retrying` (an attempt failed, another is due), `delivered`, `failed` (given up: refused, gone,
 * or out of retry time), `suppressed` (held back on purpose, e.g. a maintenance window).
 */
export const DeliveryStatuses = ['pending', 'delivered', 'retrying', 'failed', 'suppressed'] as const;
export type DeliveryStatus = (typeof DeliveryStatuses)[number];

/** The prefix of a webhook channel's signing secret (Standard Webhooks): `whsec_` + base64 of the key. */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';

/** An incident as a notification names it (the rules half of #24 fills it). */
export interface NotificationIncident {
  id: string;
  /** The dedup key (rule + monitor): PagerDuty's `dedup_key`, Opsgenie's `alias`. */
  key: string;
  title: string;
  status: 'open' | 'acknowledged' | 'resolved';
  url?: string;
  openedAt?: string;
  resolvedAt?: string | null;
}

/**
 * The `data` of a notification event: what templates render and what a webhook's body carries.
 * Open for what the producer adds (`monitor`, `metrics`, grouped `incidents`…).
 */
export interface NotificationData {
  severity: Severity;
  /** One line that says what happened (templates default to it). */
  title: string;
  /** A few lines more. */
  message: string;
  incident?: NotificationIncident;
  /** A system alert's notification: the alert, as `system:alert` carries it. */
  systemAlert?: SystemAlertData;
  [key: string]: unknown;
}

/** `user:notification` on `user-notifications-{userId}` (priority HIGH): an in-app notification. */
export interface UserNotificationData {
  id: string;
  workspaceId: string;
  title: string;
  body: string;
  severity: Severity;
  incidentId: string | null;
  createdAt: string;
  readAt: string | null;
}

/** What {@link userNotification} builds from: a stored notification. */
export interface UserNotificationInput {
  id: string;
  workspaceId: string;
  title: string;
  body: string;
  severity: Severity;
  incidentId?: string | null;
  createdAt: Date | string;
  readAt?: Date | string | null;
}

const iso = (at: Date | string) => (typeof at === 'string' ? at : at.toISOString());

/** The one `user:notification` payload, and the REST list's item: the same shape live and reloaded. */
export function userNotification(input: UserNotificationInput): UserNotificationData {
  return {
    id: input.id,
    workspaceId: input.workspaceId,
    title: input.title,
    body: input.body,
    severity: input.severity,
    incidentId: input.incidentId ?? null,
    createdAt: iso(input.createdAt),
    readAt: input.readAt ? iso(input.readAt) : null,
  };
}
