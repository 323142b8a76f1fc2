import { systemAlert } from '@crucible/contracts';
import type { NotificationData, SystemAlertData, SystemAlertEventType } from '@crucible/contracts';
import {
  NotificationChannelsRepository,
  NotificationDeliveriesRepository,
  NotificationsRepository,
  UsersRepository,
} from '@crucible/db';
import type { Db, NotificationRow, SystemAlertRow } from '@crucible/db';

/** How long a system alert's deliveries are retried (`NOTIFY_RETRY_HOURS`). */
export interface SystemAlertNotifyOptions {
  retryForMs: number;
}

const minutes = (ms: number) => {
  const m = Math.round(ms / 60_000);
  return m < 1 ? `${Math.max(1, Math.round(ms / 1000))} s` : m < 120 ? `${m} min` : `${Math.round(m / 60)} h`;
};

/** A stored alert (told: `fired_at` set) as `system:alert` and the admin route give it. */
export function systemAlertOf(row: SystemAlertRow): SystemAlertData {
  return systemAlert({
    id: row.id,
    key: row.key,
    kind: row.kind,
    severity: row.severity,
    title: row.title,
    message: row.message,
    details: row.details,
    startedAt: row.started_at,
    firedAt: row.fired_at ?? row.started_at,
    resolvedAt: row.resolved_at,
    ownerId: row.owner_id,
  });
}

/** The `data` of a system alert's notification: what templates render and a webhook's body carries. */
export function systemAlertData(row: SystemAlertRow, type: SystemAlertEventType): NotificationData {
  const alert = systemAlertOf(row);
  const message =
    type === 'system.alert.firing'
      ? row.message
      : `It ended at ${alert.resolvedAt ?? new Date().toISOString()}, ${minutes((row.resolved_at?.getTime() ?? Date.now()) - row.started_at.getTime())} after it began.`;
  return { severity: row.severity, title: row.title, message, systemAlert: alert };
}

/**
 * Writes a system alert's notification on `trx` (the transaction that changed the alert: they
 * commit together): to the owner it names, or else to every admin, one delivery to each enabled
 * channel they made in their personal workspace (the channel the alert is about left out) and an
 * in-app notification each. Returns the in-app notifications, for the caller to push once committed.
 */
export async function notifySystemAlert(
  trx: Db['kysely'],
  row: SystemAlertRow,
  type: SystemAlertEventType,
  options: SystemAlertNotifyOptions,
): Promise<NotificationRow[]> {
  const recipients = row.owner_id ? [row.owner_id] : await new UsersRepository(trx).adminIds();
  const about = typeof row.details.channelId === 'string' ? [row.details.channelId] : [];
  const channels = await new NotificationChannelsRepository(trx).personalOf(recipients, about);
  const data = systemAlertData(row, type);
  const byWorkspace = new Map<string, string[]>();
  for (const c of channels)
    byWorkspace.set(c.workspace_id, [...(byWorkspace.get(c.workspace_id) ?? []), c.id]);
  const deliveries = new NotificationDeliveriesRepository(trx);
  for (const [workspaceId, channelIds] of byWorkspace) {
    await deliveries.enqueue({ workspaceId, type, data, channelIds, retryForMs: options.retryForMs });
  }
  return new NotificationsRepository(trx).makeForUsers(recipients, {
    title: `${type === 'system.alert.firing' ? 'System alert' : 'System alert resolved'}: ${row.title}`,
    body: data.message,
    severity: row.severity,
  });
}
