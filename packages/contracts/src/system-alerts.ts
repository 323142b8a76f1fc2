/**
 * System alerts (DESIGN.md, "System alerts"): what is wrong with the platform itself, told to its
 * admins (and a channel's owner, when their channel was disabled). Browser-safe.
 */
import type { Severity } from './notifications.js';

/**
 * What a system alert is about: no worker beating, the queue's oldest test waiting too long, a
 * notification channel failing every attempt, a channel disabled by its receiver's 410 Gone.
 */
export const SystemAlertKinds = [
  'workers-silent',
  'queue-backlog',
  'channel-failing',
  'channel-gone',
] as const;
export type SystemAlertKind = (typeof SystemAlertKinds)[number];

export const SystemAlertStatuses = ['firing', 'resolved'] as const;
export type SystemAlertStatus = (typeof SystemAlertStatuses)[number];

/**
 * One system alert: a condition that started (`firing`) and, once it ended, `resolved`. `key` is its
 * fingerprint (`workers-silent`, `queue-backlog`, `channel-failing:{channelId}`,
 * `channel-gone:{channelId}`): at most one alert of a key is unresolved at a time.
 * The `system:alert` payload on `system-alerts` and the item of `GET /api/admin/system-alerts`.
 */
export interface SystemAlertData {
  id: string;
  key: string;
  kind: SystemAlertKind;
  status: SystemAlertStatus;
  severity: Severity;
  title: string;
  message: string;
  /** Kind-specific facts: `channelId`, `channelName`, `workspaceId`, `oldestTestId`, `lastBeatAt`… */
  details: Record<string, unknown>;
  /** When the condition began (not when it was noticed). */
  startedAt: string;
  /** When it was told: held that long for a condition that must last (`workers-silent`). */
  firedAt: string;
  resolvedAt: string | null;
  /** The user it is told to besides the admins (a disabled channel's creator), or null. */
  ownerId: string | null;
}

/** What {@link systemAlert} builds from: a stored alert. */
export interface SystemAlertInput {
  id: string;
  key: string;
  kind: SystemAlertKind;
  severity: Severity;
  title: string;
  message: string;
  details: Record<string, unknown>;
  startedAt: Date | string;
  firedAt: Date | string;
  resolvedAt: Date | string | null;
  ownerId: string | null;
}

const iso = (at: Date | string) => (typeof at === 'string' ? at : at.toISOString());

/** The one `system:alert` payload, and the REST list's item. */
export function systemAlert(input: SystemAlertInput): SystemAlertData {
  return {
    id: input.id,
    key: input.key,
    kind: input.kind,
    status: input.resolvedAt ? 'resolved' : 'firing',
    severity: input.severity,
    title: input.title,
    message: input.message,
    details: input.details,
    startedAt: iso(input.startedAt),
    firedAt: iso(input.firedAt),
    resolvedAt: input.resolvedAt ? iso(input.resolvedAt) : null,
    ownerId: input.ownerId,
  };
}
