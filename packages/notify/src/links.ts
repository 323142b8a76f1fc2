import type { NotificationData, NotificationEventType } from '@crucible/contracts';

/** What a notification links to in the dashboard, under its public base URL (`PUBLIC_URL`). */
export interface LinkContext {
  /** The dashboard's public base URL, no trailing slash; undefined: no links. */
  publicUrl: string | undefined;
  eventType: NotificationEventType;
  channelId: string;
}

const incidentUrl = (base: string, id: string) => `${base}/incidents/${encodeURIComponent(id)}`;

/** A disabled channel's page for its creator (whom it is told to); the admin page for the rest. */
const systemAlertUrl = (base: string, alert: NonNullable<NotificationData['systemAlert']>) =>
  alert.kind === 'channel-gone' && typeof alert.details.channelId === 'string'
    ? `${base}/channels/${encodeURIComponent(alert.details.channelId)}`
    : `${base}/admin`;

/**
 * The event's data with its dashboard links, added as it is sent (so the outbox keeps the facts
 * and a changed `PUBLIC_URL` applies to what is still to go): `incident.url` on the incident and on
 * each of a group's `incidents`, and `url`, the one link of the notification — the incident's page,
 * the open incidents for a group of several, the channel's page for a test notification and a
 * disabled channel's system alert, the admin page for the other system alerts.
 */
export function withLinks(data: NotificationData, ctx: LinkContext): NotificationData {
  const base = ctx.publicUrl;
  if (!base) return data;
  const linked = (item: NotificationData): NotificationData =>
    item.incident
      ? { ...item, incident: { ...item.incident, url: incidentUrl(base, item.incident.id) } }
      : item;
  const incidents = Array.isArray(data.incidents)
    ? (data.incidents as NotificationData[]).map(linked)
    : undefined;
  const own = linked(data);
  const url =
    ctx.eventType === 'test.notification'
      ? `${base}/channels/${encodeURIComponent(ctx.channelId)}`
      : data.systemAlert
        ? systemAlertUrl(base, data.systemAlert)
        : incidents && incidents.length > 1
          ? `${base}/incidents?status=open`
          : own.incident?.url;
  return { ...own, ...(incidents && { incidents }), ...(url && { url }) };
}
