import type { TestType } from '@crucible/shared';
import type { QueueSnapshot, TestRow } from '@crucible/db';

/** Seconds a test of a type is assumed to take before any of that type has completed. */
export const DEFAULT_DURATION_SEC = 30;

/**
 * A running test whose row has not been written for this long is presumed to have lost its worker
 * (BullMQ's default lock duration, `WORKER_LOCK_DURATION_MS`): it waits for the stalled-job check.
 */
export const DEFAULT_STALLED_AFTER_MS = 30_000;

export interface Estimate {
  queuePosition: number | null;
  /** Seconds until the test completes; null when unknown, finished or stalled. */
  etaSeconds: number | null;
  /** Running, but nothing written for the lock duration: its worker is presumed lost. */
  stalled: boolean;
}

export interface EstimateOptions {
  /** @defaultValue DEFAULT_STALLED_AFTER_MS */
  stalledAfterMs?: number;
  /** @defaultValue Date.now() */
  now?: number;
}

type Row = Pick<TestRow, 'status' | 'test_type' | 'started_at'> &
  Partial<Pick<TestRow, 'config' | 'progress' | 'updated_at'>>;

const num = (config: Record<string, unknown> | undefined, key: string, fallback: number) => {
  const v = config?.[key];
  return typeof v === 'number' ? v : fallback;
};

/**
 * Seconds a running test has left, from what the type itself says. A stress test runs for its
 * duration plus ramp-up, whatever its progress; any other type goes at the rate its progress shows
 * (a performance test's progress is its iterations done, so this is iterations × the request time
 * measured so far), and before any progress at the type's recent mean. Never below 1 s while it runs.
 */
export function remainingSec(row: Row, elapsedSec: number, meanSec: number): number {
  const left =
    row.test_type === 'stress'
      ? num(row.config, 'durationSec', 10) + num(row.config, 'rampUpSec', 0) - elapsedSec
      : (row.progress ?? 0) > 0
        ? (elapsedSec * (100 - row.progress!)) / row.progress!
        : meanSec - elapsedSec;
  return Math.max(1, Math.ceil(left));
}

/**
 * Where a test stands: its position among queued tests (higher priority first, then older first)
 * and an ETA (DESIGN.md, "Queue position and ETA"): a queued test's from the recent mean duration
 * per type of the tests ahead and the live workers' capacity; a running test's from its own
 * expected duration and progress ({@link remainingSec}), or `stalled` once nothing has been written
 * for the lock duration.
 */
export function estimate(
  row: Row,
  snapshot: QueueSnapshot,
  capacity: number,
  options: EstimateOptions = {},
): Estimate {
  const now = options.now ?? Date.now();
  const mean = (type: TestType) => snapshot.meanSecByType[type] ?? DEFAULT_DURATION_SEC;
  if (row.status === 'running') {
    const lastWrite = row.updated_at?.getTime() ?? now;
    if (now - lastWrite >= (options.stalledAfterMs ?? DEFAULT_STALLED_AFTER_MS)) {
      return { queuePosition: null, etaSeconds: null, stalled: true };
    }
    const elapsed = row.started_at ? Math.max(0, (now - row.started_at.getTime()) / 1000) : 0;
    return {
      queuePosition: null,
      etaSeconds: remainingSec(row, elapsed, mean(row.test_type)),
      stalled: false,
    };
  }
  if (row.status !== 'queued') return { queuePosition: null, etaSeconds: null, stalled: false };
  let ahead = 0;
  let work = 0;
  for (const [type, n] of Object.entries(snapshot.aheadByType) as [TestType, number][]) {
    ahead += n;
    work += n * mean(type);
  }
  for (const r of snapshot.running) work += Math.max(0, mean(r.testType) - r.elapsedSec);
  return {
    queuePosition: ahead + 1,
    etaSeconds: capacity > 0 ? Math.ceil(work / capacity + mean(row.test_type)) : null,
    stalled: false,
  };
}
