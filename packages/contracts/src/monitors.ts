/**
 * Monitors (DESIGN.md, "Monitors"): a test run on a schedule, one run per slot. What api, worker,
 * dashboard and CLI agree on about them. Browser-safe.
 */

/** The BullMQ queue of monitor runs: their own, so a backlog of other tests never delays them. */
export const MONITOR_QUEUE_NAME = 'monitors';

/** What a monitor's runs say: the latest terminal run decides. */
export const MonitorStates = { UP: 'up', DOWN: 'down', DEGRADED: 'degraded' } as const;
export type MonitorState = (typeof MonitorStates)[keyof typeof MonitorStates];

/**
 * A monitor's `status` as shown: its state, or `paused` (disabled), `maintenance` (inside one of
 * its maintenance windows now) or `pending` (no run has finished yet).
 */
export type MonitorStatus = MonitorState | 'paused' | 'maintenance' | 'pending';

/** What happened at a slot: a run (a test), `missed` (no process was up to run it) or `skipped`. */
export type SlotOutcome = 'run' | 'missed' | 'skipped';

/** Why a slot was skipped. */
export type SkipReason = 'maintenance';

/** When a monitor runs: every N seconds (slots aligned to the Unix epoch) or a 5-field cron in a time zone. */
export type MonitorSchedule = { everySeconds: number } | { cron: string; timezone?: string };

/** A threshold within this fraction of its limit makes a passing run `degraded`. */
export const DEGRADED_MARGIN = 0.1;

/** One judged threshold as a result stores it (`result.thresholds[]`). */
interface JudgedThreshold {
  op: string;
  limit: number;
  actual: number | null;
  passed: boolean;
}

/**
 * The state one finished run gives its monitor: `down` when the test failed or its verdict is
 * `failed`; `degraded` when it passed but needed a retry, or a threshold held within
 * {@link DEGRADED_MARGIN} of its limit; else `up`.
 */
export function runState(run: {
  status: 'completed' | 'failed' | 'cancelled';
  verdict: 'passed' | 'failed' | 'none' | null;
  retryCount: number;
  thresholds?: readonly JudgedThreshold[] | null;
}): MonitorState {
  if (run.status !== 'completed' || run.verdict === 'failed') return 'down';
  if (run.retryCount > 0) return 'degraded';
  const near = (run.thresholds ?? []).some((t) => {
    if (!t.passed || t.actual === null || !['<', '<=', '>', '>='].includes(t.op)) return false;
    const margin = Math.abs(t.limit) * DEGRADED_MARGIN;
    return Math.abs(t.limit - t.actual) < margin;
  });
  return near ? 'degraded' : 'up';
}

/** The metric a monitor's list shows (last value, 24 h sparkline) per test type. */
export const KEY_METRIC = {
  performance: 'total.median',
  stress: 'latency.p95',
  api: 'duration.total',
  seo: 'score',
  security: 'score',
  browser: 'lcp',
} as const;
