import type { WorkerRegistry } from '@crucible/backplane';
import type { StressConnectionStore } from '@crucible/contracts';
import type { TestRow, TestsRepository } from '@crucible/db';
import { DEFAULT_STALLED_AFTER_MS, capacityOf, estimate, ownQueue } from './estimate.js';
import type { Capacity, Estimate } from './estimate.js';
import { whyQueued } from './wait-reason.js';

export interface StandingDeps {
  tests: Pick<TestsRepository, 'queueSnapshot' | 'queueSnapshots'>;
  registry: Pick<WorkerRegistry, 'live'>;
  stressConnections?: Pick<StressConnectionStore, 'waiting'>;
  targetHosts?: Pick<StressConnectionStore, 'waiting'>;
  /** The workers' lock duration (`WORKER_LOCK_DURATION_MS`). @defaultValue DEFAULT_STALLED_AFTER_MS */
  stalledAfterMs?: number;
  /** Why a queued test waits for its workspace's running quota, if it does. @defaultValue never */
  quotaReason?: (row: TestRow) => Promise<string | null>;
  log: { warn(obj: object, msg: string): void };
}

/** Where a test stands: the workers' capacity, its queue position and ETA, why it waits. */
export interface Standing {
  /** A running test not written for this long is `stalled`, its worker presumed lost. */
  readonly stalledAfterMs: number;
  /** The live workers' slots per queue. */
  capacity(): Promise<Capacity>;
  whereIs(row: TestRow): Promise<Estimate>;
  waitReasonOf(row: TestRow): Promise<string | null>;
  /**
   * Where it stands and why it waits: a worker's note (or the running quota) first, else the
   * queue's own reason (no worker, fair share, tests ahead, every slot busy, next to start).
   */
  explain(row: TestRow, capacity?: Capacity): Promise<Estimate & { waitReason: string | null }>;
  /** {@link explain} of several tests, with one read of the queue for all of them. */
  explainAll(rows: TestRow[]): Promise<(Estimate & { waitReason: string | null })[]>;
}

export function createStanding(deps: StandingDeps): Standing {
  const stalledAfterMs = deps.stalledAfterMs ?? DEFAULT_STALLED_AFTER_MS;
  async function capacity(): Promise<Capacity> {
    try {
      return capacityOf(await deps.registry.live());
    } catch (err) {
      // The estimate is a nicety: without Redis it is unknown, not an error.
      deps.log.warn({ err }, 'could not read the live workers');
      return capacityOf([]);
    }
  }

  async function whereIs(row: TestRow, known?: Capacity): Promise<Estimate> {
    if (row.status !== 'queued' && row.status !== 'running')
      return { queuePosition: null, etaSeconds: null, stalled: false };
    const [snapshot, cap] = await Promise.all([deps.tests.queueSnapshot(row), known ?? capacity()]);
    return estimate(row, snapshot, cap, { stalledAfterMs });
  }

  /**
   * Why a queued test has not started, when a worker noted it: its target host's slots (asked
   * first), then its workspace's stress connections or running quota; else, when its workspace
   * runs as many tests as its running quota allows (the dispatcher holds its tests back).
   */
  async function waitReasonOf(row: TestRow): Promise<string | null> {
    return (await waitReasonsOf([row]))[0]!;
  }

  /**
   * {@link waitReasonOf} of several tests: each store asked once for all of them, and the running
   * quota read once per workspace (a queue status lists 20 tests of one workspace: it read the
   * same quota and usage 20 times).
   */
  async function waitReasonsOf(rows: TestRow[]): Promise<(string | null)[]> {
    const queued = rows.filter((r) => r.status === 'queued');
    if (queued.length === 0) return rows.map(() => null);
    const stores = [deps.targetHosts, deps.stressConnections].filter((s) => s !== undefined);
    try {
      const noted = await Promise.all(stores.map((store) => store.waiting(queued.map((r) => r.test_id))));
      const quota = new Map<string | null, Promise<string | null>>();
      return await Promise.all(
        rows.map(async (row) => {
          if (row.status !== 'queued') return null;
          for (const reasons of noted) {
            const reason = reasons.get(row.test_id);
            if (reason !== undefined) return reason;
          }
          if (!deps.quotaReason) return null;
          let reason = quota.get(row.workspace_id);
          if (!reason) quota.set(row.workspace_id, (reason = deps.quotaReason(row)));
          return await reason;
        }),
      );
    } catch (err) {
      deps.log.warn({ err }, 'could not read why the tests wait');
      return rows.map(() => null);
    }
  }

  async function explainAll(rows: TestRow[], known?: Capacity) {
    const [snapshots, cap, noted] = await Promise.all([
      deps.tests.queueSnapshots(rows),
      known ?? capacity(),
      waitReasonsOf(rows),
    ]);
    return rows.map((row, i) => {
      if (row.status !== 'queued' && row.status !== 'running')
        return { queuePosition: null, etaSeconds: null, stalled: false, waitReason: null };
      const snapshot = snapshots[i]!;
      const where = estimate(row, snapshot, cap, { stalledAfterMs });
      if (row.status !== 'queued') return { ...where, waitReason: null };
      return {
        ...where,
        waitReason:
          noted[i] ?? whyQueued(row.status, where.queuePosition, ownQueue(row.test_type, snapshot, cap)),
      };
    });
  }

  return {
    stalledAfterMs,
    capacity,
    whereIs,
    waitReasonOf,

    async explain(row, known) {
      return (await explainAll([row], known))[0]!;
    },
    explainAll: (rows) => explainAll(rows),
  };
}
