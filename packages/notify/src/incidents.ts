import type {
  ChannelType,
  IncidentEventType,
  MetricValues,
  NotificationData,
  Severity,
} from '@crucible/contracts';
import { AlertRulesRepository, IncidentsRepository, NotificationDeliveriesRepository } from '@crucible/db';
import type { Db, IncidentRow } from '@crucible/db';

/** How incidents are told (DESIGN.md, "Alerts and notifications"). */
export interface IncidentNotifyOptions {
  /** How long deliveries are retried (`NOTIFY_RETRY_HOURS`). */
  retryForMs: number;
  /**
   * How long an opening waits for others of its workspace to go out with it, one notification per
   * channel (`ALERT_GROUP_WAIT_MS`); 0: each at once. @defaultValue 30_000
   */
  groupWaitMs: number;
}

/**
 * Channels whose service keys each alert by the incident's own key (PagerDuty's `dedup_key`,
 * Opsgenie's `alias`): a grouped notification would open one alert for several incidents that
 * resolve one by one, so they are told of each incident on its own, at once.
 */
const KEYED_CHANNELS: ReadonlySet<ChannelType> = new Set(['pagerduty', 'opsgenie']);

const SEVERITY_RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

const MESSAGES: Record<IncidentEventType, (i: IncidentRow) => string> = {
  'incident.opened': (i) => `Rule "${i.rule_name}" fails on monitor "${i.monitor_name}".`,
  'incident.reminder': (i) =>
    `Rule "${i.rule_name}" still fails on monitor "${i.monitor_name}" (open since ${i.opened_at.toISOString()}).`,
  'incident.acknowledged': (i) => `Rule "${i.rule_name}" on monitor "${i.monitor_name}" is being looked at.`,
  'incident.resolved': (i) =>
    i.resolved_by
      ? `Rule "${i.rule_name}" on monitor "${i.monitor_name}" was resolved by hand.`
      : `Rule "${i.rule_name}" passes again on monitor "${i.monitor_name}".`,
};

/** The `data` of one incident's notification: what templates render and a webhook's body carries. */
export function incidentData(
  incident: IncidentRow,
  type: IncidentEventType,
  options: { metrics?: MetricValues } = {},
): NotificationData {
  return {
    severity: incident.severity,
    title: `${incident.monitor_name}: ${incident.rule_name}`,
    message: MESSAGES[type](incident),
    incident: {
      id: incident.id,
      key: incident.key,
      title: `${incident.monitor_name}: ${incident.rule_name}`,
      status: incident.status,
      openedAt: incident.opened_at.toISOString(),
      resolvedAt: incident.resolved_at?.toISOString() ?? null,
    },
    monitor: { id: incident.monitor_id, name: incident.monitor_name },
    rule: { id: incident.rule_id, name: incident.rule_name },
    ...(options.metrics && { metrics: options.metrics }),
  };
}

/**
 * A grouped opening: one notification that lists every incident in `incidents` (the first also as
 * `incident`, `monitor` and `metrics`, so a template written for one still reads), at the highest
 * severity among them.
 */
export function groupedData(items: readonly NotificationData[]): NotificationData {
  const first = items[0]!;
  const severity = items.map((i) => i.severity).sort((a, b) => SEVERITY_RANK[a] - SEVERITY_RANK[b])[0]!;
  if (items.length === 1) return { ...first, incidents: [...items] };
  return {
    ...first,
    severity,
    title: `${items.length} incidents opened: ${items.map((i) => i.title).join(', ')}`.slice(0, 500),
    message: items.map((i) => `- ${i.title}: ${i.message}`).join('\n'),
    incidents: [...items],
  };
}

/**
 * Writes the notification of an incident's transition into the outbox, on `trx` (the transaction
 * of the transition itself: the two commit together), one delivery per channel of its rule.
 * Inside a maintenance window (`suppressed`) the deliveries are recorded `suppressed`. An opening
 * joins the workspace's group to each channel still held (or starts one, held `groupWaitMs`), so
 * incidents opening together go out as one notification per channel; PagerDuty and Opsgenie are
 * told of each at once.
 */
export async function notifyIncident(
  trx: Db['kysely'],
  incident: IncidentRow,
  type: IncidentEventType,
  options: IncidentNotifyOptions & { metrics?: MetricValues; suppressed?: boolean },
): Promise<void> {
  if (!incident.rule_id) return;
  const channels = await new AlertRulesRepository(trx).channelsOf(incident.rule_id);
  if (channels.length === 0) return;
  const deliveries = new NotificationDeliveriesRepository(trx);
  const incidents = new IncidentsRepository(trx);
  const data = incidentData(incident, type, options);
  const base = { workspaceId: incident.workspace_id, type, retryForMs: options.retryForMs };

  const grouped =
    type === 'incident.opened' && options.groupWaitMs > 0 && !options.suppressed
      ? channels.filter((c) => !KEYED_CHANNELS.has(c.type))
      : [];
  const direct = channels.filter((c) => !grouped.includes(c));
  if (direct.length > 0) {
    const { eventId } = await deliveries.enqueue({
      ...base,
      data,
      channelIds: direct.map((c) => c.id),
      suppressed: options.suppressed ?? false,
    });
    await incidents.link(eventId, [incident.id]);
  }
  if (grouped.length === 0) return;
  await deliveries.lockGroups(incident.workspace_id);
  for (const channel of grouped) {
    const groupKey = `opened:${channel.id}`;
    const held = await deliveries.heldGroup(
      incident.workspace_id,
      groupKey,
      incident.severity === 'critical' ? options.groupWaitMs : undefined,
    );
    if (held) {
      const items = ((held.data as { incidents?: NotificationData[] }).incidents ?? []).concat(data);
      await deliveries.regroup(held.eventId, groupedData(items));
      await incidents.link(held.eventId, [incident.id]);
      continue;
    }
    const { eventId } = await deliveries.enqueue({
      ...base,
      data: groupedData([data]),
      channelIds: [channel.id],
      groupKey,
      holdMs: options.groupWaitMs,
    });
    await incidents.link(eventId, [incident.id]);
  }
}
