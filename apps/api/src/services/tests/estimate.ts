import { TEST_QUEUE_NAMES, queueNameOf } from '@crucible/contracts';
import type { TestQueueName, TestType } from '@crucible/contracts';
import type { QueueSnapshot, TestRow } from '@crucible/db';

/** Seconds a test of a type is assumed to take before any of that type has completed. */
export const DEFAULT_DURATION_SEC = 30;

/**
 * A running test whose row has not been written for this long is presumed to have lost its worker
 * (BullMQ's default lock duration, `WORKER_LOCK_DURATION_MS`): it waits for the stalled-job check.
 */
export const DEFAULT_STALLED_AFTER_MS = 30_000;

/** Test slots of the live workers, per queue they consume (their `slots`). */
export type Capacity = Record<TestQueueName, number>;

/** The capacity of the live workers' announcements (`WorkerPresence.slots`). */
export function capacityOf(workers: { slots?: Partial<Record<TestQueueName, number>> }[]): Capacity {
  const capacity = Object.fromEntries(TEST_QUEUE_NAMES.map((name) => [name, 0])) as Capacity;
  for (const worker of workers) {
    for (const [name, n] of Object.entries(worker.slots ?? {}) as [TestQueueName, number][]) {
      if (name in capacity) capacity[name] += n;
    }
  }
  return capacity;
}

/**
 * What a test of `testType` waits for: the tests of its own queue (browser tests have theirs) and
 * the workers that consume it.
 */
export function ownQueue(
  testType: TestType,
  snapshot: QueueSnapshot,
  capacity: Capacity,
): { queue: TestQueueName; snapshot: QueueSnapshot; capacity: number } {
  const queue = queueNameOf(testType);
  const mine = (type: TestType) => queueNameOf(type) === queue;
  return {
    queue,
    snapshot: {
      ...snapshot,
      aheadByType: Object.fromEntries(
        Object.entries(snapshot.aheadByType).filter(([type]) => mine(type as TestType)),
      ),
      running: snapshot.running.filter((r) => mine(r.testType)),
    },
    capacity: capacity[queue],
  };
}

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
  Partial<Pick<TestRow, 'config' | 'judging' | 'progress' | 'updated_at'>>;

const num = (config: Record<string, unknown> | undefined, key: string, fallback: number) => {
  const v = config?.[key];
  return typeof v === 'number' ? v : fallback;
};

/**
 * Seconds a running test has left, from what the type itself says. A stress test runs for its
 * duration plus ramp-up (times its runs), whatever its progress; any other type goes at the rate its progress shows
 * (a performance test's progress is its iterations done, so this is iterations × the request time
 * measured so far), and before any progress at the type's recent mean. Never below 1 s while it runs.
 */
export function remainingSec(row: Row, elapsedSec: number, meanSec: number): number {
  const left =
    row.test_type === 'stress'
      ? (num(row.config, 'durationSec', 10) + num(row.config, 'rampUpSec', 0)) * (row.judging?.runs ?? 1) -
        elapsedSec
      : (row.progress ?? 0) > 0
        ? (elapsedSec * (100 - row.progress!)) / row.progress!
        : meanSec - elapsedSec;
  return Math.max(1, Math.ceil(left));
}

/**
 * Where a test stands: its position among the queued tests of its queue (higher priority first,
 * then older first) and an ETA (DESIGN.md, "Queue position and ETA"): a queued test's from the
 * recent mean duration per type of the tests ahead and the capacity of the live workers consuming
 * its queue; a running test's from its own
 * expected duration and progress ({@link remainingSec}), or `stalled` once nothing has been written
 * for the lock duration.
 */
export function estimate(
  row: Row,
  everyQueue: QueueSnapshot,
  capacities: Capacity,
  options: EstimateOptions = {},
): Estimate {
  const { snapshot, capacity } = ownQueue(row.test_type, everyQueue, capacities);
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
