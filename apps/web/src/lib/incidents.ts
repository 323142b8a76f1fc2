import { IncidentStatuses } from '@crucible/contracts';
import type { IncidentStatus } from '@crucible/contracts';
import { can } from '@crucible/contracts/api';
import type { IncidentDetail, IncidentView, WorkspaceView } from '@crucible/contracts/api';

/** The Incidents page's status filter from its `?status=`: one of the API's, or all of them. */
export function statusFilter(raw: string | undefined): IncidentStatus | undefined {
  return (IncidentStatuses as readonly string[]).includes(raw ?? '') ? (raw as IncidentStatus) : undefined;
}

/** The Incidents page's address for a filter and a cursor, with nothing empty in it. */
export function incidentsPath(status: IncidentStatus | undefined, cursor?: string): string {
  const query = new URLSearchParams();
  if (status) query.set('status', status);
  if (cursor) query.set('cursor', cursor);
  const text = query.toString();
  return text ? `/incidents?${text}` : '/incidents';
}

/** A span of time in words at its two largest units: `45 s`, `3 min 20 s`, `2 h 5 min`, `3 d 4 h`. */
export function durationText(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const units: [number, string][] = [
    [Math.floor(s / 86_400), 'd'],
    [Math.floor(s / 3600) % 24, 'h'],
    [Math.floor(s / 60) % 60, 'min'],
    [s % 60, 's'],
  ];
  const first = units.findIndex(([n]) => n > 0);
  if (first === -1) return '0 s';
  return units
    .slice(first, first + 2)
    .filter(([n]) => n > 0)
    .map(([n, unit]) => `${n} ${unit}`)
    .join(' ');
}

/** How long the incident lasted (resolved) or has lasted so far (at `now`). */
export function incidentDuration(
  incident: Pick<IncidentView, 'openedAt' | 'resolvedAt'>,
  now: number,
): string {
  const end = incident.resolvedAt ? Date.parse(incident.resolvedAt) : now;
  return durationText(end - Date.parse(incident.openedAt));
}

/**
 * Which buttons the incident page shows: acknowledging only an open incident, resolving one not
 * resolved yet, both only for a role with `alert:write` (a viewer is shown none the API would refuse).
 */
export function incidentActions(
  status: IncidentStatus,
  role: WorkspaceView['role'] | null,
): { acknowledge: boolean; resolve: boolean } {
  const write = role !== null && can(role, 'alert:write');
  return { acknowledge: write && status === 'open', resolve: write && status !== 'resolved' };
}

/** One line of an incident's timeline. */
export type TimelineEntry =
  | { kind: 'opened' | 'acknowledged' | 'resolved'; at: string; by: string | null }
  | { kind: 'run'; at: string; role: 'opened' | 'resolved'; run: IncidentDetail['openedBy'][number] }
  | { kind: 'notification'; at: string; notification: IncidentDetail['notifications'][number] };

const runTime = (run: IncidentDetail['openedBy'][number], fallback: string) =>
  run.completedAt ?? run.scheduledFor ?? fallback;

/**
 * The incident's history, oldest first: the runs that opened it, its opening, the acknowledgement,
 * the runs that resolved it, the resolution, and each notification. Equal times keep that order
 * (the sort is stable), so a run comes before the change it caused and a change before the
 * notification that tells of it.
 */
export function timeline(detail: IncidentDetail): TimelineEntry[] {
  const entries: TimelineEntry[] = [
    ...detail.openedBy.map((run): TimelineEntry => ({
      kind: 'run',
      role: 'opened',
      run,
      at: runTime(run, detail.openedAt),
    })),
    { kind: 'opened', at: detail.openedAt, by: null },
  ];
  if (detail.acknowledgedAt)
    entries.push({ kind: 'acknowledged', at: detail.acknowledgedAt, by: detail.acknowledgedBy });
  const closedAt = detail.resolvedAt ?? detail.openedAt;
  for (const run of detail.resolvedByRuns)
    entries.push({ kind: 'run', role: 'resolved', run, at: runTime(run, closedAt) });
  if (detail.resolvedAt) entries.push({ kind: 'resolved', at: detail.resolvedAt, by: detail.resolvedBy });
  for (const notification of detail.notifications)
    entries.push({ kind: 'notification', at: notification.createdAt, notification });
  return entries
    .map((entry, index) => ({ entry, index, t: Date.parse(entry.at) }))
    .sort((a, b) => a.t - b.t || a.index - b.index)
    .map(({ entry }) => entry);
}

/** An incident's span on the monitor chart, in seconds since the epoch. */
export interface IncidentSpan {
  id: string;
  from: number;
  to: number;
  status: IncidentStatus;
}

/**
 * The monitor chart's incident spans: each incident from its opening to its resolution (still
 * open: to `now`), clipped to the chart's time range `[from, to]` (seconds); those outside it are left out.
 */
export function incidentSpans(
  incidents: readonly Pick<IncidentView, 'id' | 'openedAt' | 'resolvedAt' | 'status'>[],
  range: { from: number; to: number },
  now: number,
): IncidentSpan[] {
  return incidents
    .map((i) => ({
      id: i.id,
      status: i.status,
      from: Math.max(range.from, Date.parse(i.openedAt) / 1000),
      to: Math.min(range.to, (i.resolvedAt ? Date.parse(i.resolvedAt) : now) / 1000),
    }))
    .filter((span) => span.to > span.from)
    .sort((a, b) => a.from - b.from);
}
