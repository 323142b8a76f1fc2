import type { MonitorRunView, MonitorView } from '@crucible/contracts/api';
import type { EventMessage } from '@crucible/contracts/envelope';
import { Events } from '@crucible/contracts/events';

/**
 * What the Monitors pages compute from the API's views and the workspace channel's events
 * (DESIGN.md, "Monitors"): kept pure so each rule is tested without a browser.
 */

/** `99.5 %`, `100 %`; a dash without a finished run in the period. */
export function formatUptime(percent: number | null): string {
  if (percent === null) return '—';
  // 99.95 must not round up to a "100 %" that hides a failure.
  const shown = percent >= 100 ? '100' : (Math.floor(percent * 100) / 100).toFixed(2).replace(/\.?0+$/, '');
  return `${shown} %`;
}

/** `in 12 s`, `in 4 min`, `in 3 h`, `in 2 d`; `now` once due. */
export function untilText(iso: string | null, now: number): string {
  if (iso === null) return '—';
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  if (seconds <= 0) return 'now';
  if (seconds < 120) return `in ${seconds} s`;
  if (seconds < 2 * 3600) return `in ${Math.round(seconds / 60)} min`;
  if (seconds < 2 * 86_400) return `in ${Math.round(seconds / 3600)} h`;
  return `in ${Math.round(seconds / 86_400)} d`;
}

/** `every 30 s`, `every 5 min`, `0 9 * * 1-5 (Europe/Paris)`. */
export function scheduleText(schedule: Record<string, unknown>): string {
  if (typeof schedule.everySeconds === 'number') {
    const s = schedule.everySeconds;
    if (s % 3600 === 0) return `every ${s / 3600} h`;
    if (s % 60 === 0) return `every ${s / 60} min`;
    return `every ${s} s`;
  }
  return `${String(schedule.cron)} (${String(schedule.timezone ?? 'UTC')})`;
}

/**
 * The `points` of an SVG polyline drawing `series` in a `width` × `height` box: time along x (by
 * each point's time, so a gap shows as a gap), value up y from the series' minimum to its maximum
 * (a flat series is a line across the middle). One point is a short flat line.
 */
export function sparklinePoints(
  series: readonly { t: string; v: number }[],
  width: number,
  height: number,
): string {
  if (series.length === 0) return '';
  const ts = series.map((p) => Date.parse(p.t));
  const vs = series.map((p) => p.v);
  const [t0, t1] = [Math.min(...ts), Math.max(...ts)];
  const [v0, v1] = [Math.min(...vs), Math.max(...vs)];
  const pad = 1;
  const x = (t: number) => (t1 === t0 ? 0 : ((t - t0) / (t1 - t0)) * width);
  const y = (v: number) => (v1 === v0 ? height / 2 : pad + (1 - (v - v0) / (v1 - v0)) * (height - 2 * pad));
  const round = (n: number) => Math.round(n * 10) / 10;
  const points = series.map((p, i) => `${round(x(ts[i]!))},${round(y(p.v))}`);
  return series.length === 1 ? `0,${round(y(vs[0]!))} ${width},${round(y(vs[0]!))}` : points.join(' ');
}

/**
 * The list after one event of the workspace channel. `monitor:status` shows the new state at once
 * (a paused monitor, or one in maintenance, keeps showing that); an event older than the list's
 * last finished run is history the channel replays on subscribing, already in the list. Anything
 * else leaves the list as it is: the page reloads it for the figures events do not carry.
 */
export function applyMonitorEvent(
  items: readonly MonitorView[],
  message: EventMessage,
): readonly MonitorView[] {
  if (message.event !== Events.MONITOR_STATUS) return items;
  const { monitorId, to, changedAt, testId } = message.data;
  return items.map((m) => {
    if (m.id !== monitorId || m.status === 'paused' || m.status === 'maintenance') return m;
    const last = m.lastRun;
    if (last?.completedAt && Date.parse(changedAt) < Date.parse(last.completedAt) && last.testId !== testId)
      return m;
    return m.status === to ? m : { ...m, status: to };
  });
}

/** Events of the workspace channel that change what a monitor shows. */
export function isMonitorEvent(message: EventMessage, monitorId?: string): boolean {
  const monitorEvents: string[] = [Events.MONITOR_RUN, Events.MONITOR_STATUS, Events.MONITOR_UPDATED];
  if (!monitorEvents.includes(message.event)) return false;
  return monitorId === undefined || (message.data as { monitorId?: string }).monitorId === monitorId;
}

/** The value of metric `name` in a run's metrics (`{name: {value, unit}}`), or null. */
export function metricOf(metrics: unknown, name: string): { value: number; unit: string } | null {
  if (typeof metrics !== 'object' || metrics === null) return null;
  const entry = (metrics as Record<string, unknown>)[name];
  if (typeof entry !== 'object' || entry === null) return null;
  const { value, unit } = entry as { value?: unknown; unit?: unknown };
  return typeof value === 'number' && Number.isFinite(value)
    ? { value, unit: typeof unit === 'string' ? unit : '' }
    : null;
}

/** What a slot shows on the chart: its run's state, or why it did not run. */
export type BandKind = 'up' | 'down' | 'degraded' | 'maintenance' | 'missed' | 'skipped';

export interface Band {
  /** Seconds since the epoch. */
  from: number;
  to: number;
  kind: BandKind;
}

export interface RunChart {
  /** Each slot's time in seconds, oldest first. */
  t: number[];
  /** The key metric of each slot's run; null where it has none (down, missed, skipped). */
  v: (number | null)[];
  /** The metric's unit, from the first run that has it. */
  unit: string;
  /** Consecutive slots of one kind merged; a slot lasts until the next one. */
  bands: Band[];
}

function kindOf(run: MonitorRunView): BandKind | null {
  if (run.outcome === 'skipped') return run.reason === 'maintenance' ? 'maintenance' : 'skipped';
  if (run.outcome === 'missed') return 'missed';
  return run.state;
}

/**
 * The monitor page's chart from its runs (newest first, as the API lists them): the key metric per
 * run, and coloured bands behind it — up, down, degraded, maintenance (skipped for a maintenance
 * window), missed. A run not yet finished has no band. The newest slot's band is as wide as the
 * gap before it (or `lastWidth` seconds when it is the only one), so it shows.
 */
export function runChart(runs: readonly MonitorRunView[], metric: string, lastWidth = 60): RunChart {
  const ordered = [...runs].sort((a, b) => Date.parse(a.scheduledFor) - Date.parse(b.scheduledFor));
  const t = ordered.map((r) => Date.parse(r.scheduledFor) / 1000);
  let unit = '';
  const v = ordered.map((r) => {
    const m = metricOf(r.metrics, metric);
    if (m && !unit) unit = m.unit;
    return m ? m.value : null;
  });
  const bands: Band[] = [];
  ordered.forEach((run, i) => {
    const kind = kindOf(run);
    if (kind === null) return;
    const from = t[i]!;
    const to = i + 1 < t.length ? t[i + 1]! : from + (i > 0 ? from - t[i - 1]! : lastWidth);
    const previous = bands.at(-1);
    if (previous && previous.kind === kind && previous.to === from) previous.to = to;
    else bands.push({ from, to, kind });
  });
  return { t, v, unit, bands };
}

/**
 * Where an API refusal of the monitor form belongs: the form field's key (`url`, `name`,
 * `everySeconds`, `thresholds`, a config field's path such as `iterations` or `steps.0.url`), or
 * `''` for the form as a whole. The API names the place in `detail` (`body.test.config.iterations
 * must be >= 1`, `schedule.timezone: …`), its code says the kind.
 */
export function problemField(code: string, detail: string): string {
  if (code === 'INVALID_THRESHOLD') return 'thresholds';
  if (code === 'TARGET_REFUSED') return 'url';
  if (code === 'MONITOR_TYPE_UNSUPPORTED') return 'testType';
  const path = /^(?:body\.)?([\w.]+)/.exec(detail)?.[1] ?? '';
  const parts = path.split('.');
  if (parts[0] === 'schedule')
    return ['everySeconds', 'cron', 'timezone'].includes(parts[1] ?? '') ? parts[1]! : 'schedule';
  if (parts[0] === 'name') return 'name';
  if (parts[0] !== 'test') return '';
  if (parts[1] === 'config') return parts.length > 2 ? parts.slice(2).join('.') : 'config';
  if (['url', 'thresholds', 'runs', 'testType'].includes(parts[1] ?? '')) return parts[1]!;
  return '';
}

/**
 * The run list after reloading its first page: the fresh page, then the older runs already shown
 * below it ("Show older"), so a live reload keeps what the user paged to.
 */
export function mergeRuns(
  fresh: readonly MonitorRunView[],
  shown: readonly MonitorRunView[],
): MonitorRunView[] {
  const oldest = fresh.at(-1);
  // No run at all now (a reload after the first page emptied): nothing older can be left either.
  if (!oldest) return [];
  const older = shown.filter((r) => Date.parse(r.scheduledFor) < Date.parse(oldest.scheduledFor));
  return [...fresh, ...older];
}
