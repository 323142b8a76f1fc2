/** One second of a stress test as the charts draw it. */
export interface StressPoint {
  /** Seconds since the test started. */
  t: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  errors: number;
  connections: number | null;
}

const num = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null;

/**
 * Reads one per-second figure of the stress engine (published on `stress-test-{id}` and with each
 * `test:progress`), or null when the data is not one.
 */
export function toStressPoint(data: unknown): StressPoint | null {
  if (typeof data !== 'object' || data === null) return null;
  const d = data as Record<string, unknown>;
  const latency = (typeof d.latency === 'object' && d.latency !== null ? d.latency : d) as Record<
    string,
    unknown
  >;
  const t = num(d.second) ?? num(d.elapsedSec) ?? num(d.t);
  const rps = num(d.rps);
  const p50 = num(latency.p50);
  const p95 = num(latency.p95);
  const p99 = num(latency.p99);
  if (t === null || rps === null || p50 === null || p95 === null || p99 === null) return null;
  return { t, rps, p50, p95, p99, errors: num(d.errors) ?? 0, connections: num(d.connections) };
}

/** Adds a point, keeping the series ordered by second with one point per second (a replay may repeat one). */
export function addPoint(series: readonly StressPoint[], point: StressPoint): StressPoint[] {
  const last = series.at(-1);
  if (!last || point.t > last.t) return [...series, point];
  const next = series.filter((p) => p.t !== point.t);
  next.push(point);
  return next.sort((a, b) => a.t - b.t);
}
