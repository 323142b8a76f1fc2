import type { TestType } from '@crucible/shared';
import type { QueueSnapshot, TestRow } from '@crucible/db';

/** Seconds a test of a type is assumed to take before any of that type has completed. */
export const DEFAULT_DURATION_SEC = 30;

/**
 * Where a test stands: its position among queued tests (higher priority first, then older first)
 * and an ETA from the recent mean duration per type and the live workers' capacity
 * (DESIGN.md, "Queue position and ETA").
 */
export function estimate(
  row: Pick<TestRow, 'status' | 'test_type' | 'started_at'>,
  snapshot: QueueSnapshot,
  capacity: number,
): { queuePosition: number | null; etaSeconds: number | null } {
  const mean = (type: TestType) => snapshot.meanSecByType[type] ?? DEFAULT_DURATION_SEC;
  if (row.status === 'running') {
    const elapsed = row.started_at ? (Date.now() - row.started_at.getTime()) / 1000 : 0;
    return { queuePosition: null, etaSeconds: Math.ceil(Math.max(0, mean(row.test_type) - elapsed)) };
  }
  if (row.status !== 'queued') return { queuePosition: null, etaSeconds: null };
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
  };
}
