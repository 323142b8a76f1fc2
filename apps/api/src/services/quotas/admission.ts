import { Quotas, TestTypes, stressConnectionSeconds } from '@crucible/contracts';
import type { QuotaLimits } from '@crucible/contracts';
import type {
  BatchOutcome,
  NewBatchTest,
  QuotaUsage,
  TestsRepository,
  WorkspaceQuotasRepository,
} from '@crucible/db';
import type { HttpProblem } from '../../errors.js';
import { QUEUED_RETRY_AFTER_SEC, nextUtcMidnight, quotaExceeded } from './quotas.js';
import type { QuotasService } from './quotas.js';

/** A test of a batch that a quota refused: nothing of it was written. */
export interface Refused {
  created: false;
  earlier: null;
  refused: HttpProblem;
}

export type AdmissionOutcome = BatchOutcome | Refused;

export interface AdmissionDeps {
  tests: Pick<TestsRepository, 'createMany' | 'createManyWithin'>;
  quotas: Pick<WorkspaceQuotasRepository, 'admit' | 'chargeStress'>;
  /** The workspaces' limits and their submissions per minute. */
  service: Pick<QuotasService, 'limitsOfMany' | 'takeSubmissions' | 'giveBackSubmissions'>;
  now?: () => number;
}

/** What a test costs of its workspace's stress budget (0 for other types). */
function stressCost(test: NewBatchTest): number {
  if (test.testType !== TestTypes.STRESS) return 0;
  return stressConnectionSeconds(test.config, test.judging?.runs ?? 1);
}

/** The stress connection-seconds each workspace was granted by the tests created. */
function charged(
  tests: NewBatchTest[],
  outcomes: BatchOutcome[],
  workspaceIds: string[],
): Map<string, number> {
  const charges = new Map<string, number>();
  if (workspaceIds.length === 0) return charges;
  tests.forEach((test, j) => {
    const cost = stressCost(test);
    if (cost > 0 && test.workspaceId && outcomes[j]?.created)
      charges.set(test.workspaceId, (charges.get(test.workspaceId) ?? 0) + cost);
  });
  return charges;
}

/** How many of `items` each workspace has. */
function countBy(items: NewBatchTest[], pick: (test: NewBatchTest, i: number) => boolean = () => true) {
  const counts = new Map<string, number>();
  items.forEach((test, i) => {
    if (test.workspaceId && pick(test, i))
      counts.set(test.workspaceId, (counts.get(test.workspaceId) ?? 0) + 1);
  });
  return counts;
}

/**
 * `createMany` held to the workspaces' quotas (DESIGN.md, "Quotas"), once per flush of the group
 * commit, never per request:
 * - submissions per minute: one counter call per workspace of the flush; its tests past the limit
 *   are refused (the last of the flush), and those taken that store nothing are given back;
 * - queued tests: the flush's INSERT itself checks, under each bounded workspace's queued counter
 *   (`createManyWithin`), that the workspace's queue has room for all its tests of the flush —
 *   one statement, as without quotas. When it has not (near the limit), or the flush holds stress
 *   tests of a workspace with a stress budget, it is admitted exactly under the counters' lock
 *   (`admit`): the tests taken in order while they fit, the others refused with 429.
 * Refused tests leave nothing behind. Exact across api processes: every admission of a
 * workspace holds its counter, which the triggers of `test_queue` keep.
 */
export function createAdmission(deps: AdmissionDeps) {
  const now = deps.now ?? Date.now;

  function refusal(
    test: NewBatchTest,
    limits: QuotaLimits,
    used: Pick<QuotaUsage, 'queued' | 'stressToday'>,
  ) {
    if (limits.queued !== null && used.queued + 1 > limits.queued) {
      return quotaExceeded(
        Quotas.QUEUED,
        limits.queued,
        QUEUED_RETRY_AFTER_SEC,
        `This workspace has ${used.queued} tests queued, its quota`,
      );
    }
    const cost = stressCost(test);
    if (cost > 0 && limits.stressBudget !== null && used.stressToday + cost > limits.stressBudget) {
      const t = now();
      return quotaExceeded(
        Quotas.STRESS_BUDGET,
        limits.stressBudget,
        (nextUtcMidnight(t).getTime() - t) / 1000,
        `This stress test needs ${cost} connection-seconds and the workspace has ` +
          `${Math.max(0, limits.stressBudget - used.stressToday)} of its ${limits.stressBudget} left today (UTC)`,
      );
    }
    return undefined;
  }

  /** Under the counters' lock: each test in order while it fits. */
  function admitExactly(
    items: NewBatchTest[],
    ids: string[],
    bounded: string[],
    limits: Map<string, QuotaLimits>,
  ): Promise<AdmissionOutcome[]> {
    return deps.quotas.admit(bounded, async (usage, scope) => {
      const out: (AdmissionOutcome | undefined)[] = items.map(() => undefined);
      const admitted: number[] = [];
      items.forEach((test, i) => {
        const used = test.workspaceId ? usage.get(test.workspaceId) : undefined;
        const refused = used && refusal(test, limits.get(test.workspaceId!)!, used);
        if (refused) {
          out[i] = { created: false, earlier: null, refused };
          return;
        }
        admitted.push(i);
        if (used) {
          used.queued += 1;
          used.stressToday += stressCost(test);
        }
      });
      const written = admitted.map((i) => items[i]!);
      const outcomes = await scope.tests.createMany(written);
      admitted.forEach((i, j) => (out[i] = outcomes[j]!));
      await scope.quotas.chargeStress(charged(written, outcomes, ids));
      return out as AdmissionOutcome[];
    });
  }

  /** The queued quota and the stress budget. */
  async function admitQueued(
    items: NewBatchTest[],
    limits: Map<string, QuotaLimits>,
  ): Promise<AdmissionOutcome[]> {
    if (items.length === 0) return [];
    const ids = [...countBy(items).keys()];
    const queuedBound = ids.filter((id) => limits.get(id)!.queued !== null);
    const stressBound = ids.filter(
      (id) =>
        limits.get(id)!.stressBudget !== null && items.some((t) => t.workspaceId === id && stressCost(t) > 0),
    );
    if (queuedBound.length === 0 && stressBound.length === 0) {
      const outcomes = await deps.tests.createMany(items);
      // No budget to hold them to, but today's use is still counted: the usage view shows it.
      await deps.quotas.chargeStress(charged(items, outcomes, ids));
      return outcomes;
    }
    if (stressBound.length === 0) {
      const adding = countBy(items);
      const room = new Map(queuedBound.map((id) => [id, limits.get(id)!.queued! - adding.get(id)!]));
      if ([...room.values()].every((r) => r >= 0)) {
        const outcomes = await deps.tests.createManyWithin(items, room);
        if (outcomes) {
          await deps.quotas.chargeStress(charged(items, outcomes, ids));
          return outcomes;
        }
      }
    }
    return admitExactly(items, ids, [...new Set([...queuedBound, ...stressBound])], limits);
  }

  return async function createMany(items: NewBatchTest[]): Promise<AdmissionOutcome[]> {
    if (items.length === 0) return [];
    const limits = await deps.service.limitsOfMany([...countBy(items).keys()]);
    const rate = await deps.service.takeSubmissions(countBy(items), limits);
    const out: (AdmissionOutcome | undefined)[] = items.map(() => undefined);
    const seen = new Map<string, number>();
    const kept: number[] = [];
    items.forEach((test, i) => {
      const taken = test.workspaceId ? rate.get(test.workspaceId) : undefined;
      if (taken) {
        const nth = (seen.get(test.workspaceId!) ?? 0) + 1;
        seen.set(test.workspaceId!, nth);
        if (nth > taken.taken) {
          out[i] = { created: false, earlier: null, refused: taken.refusal! };
          return;
        }
      }
      kept.push(i);
    });
    const written = kept.map((i) => items[i]!);
    let outcomes: AdmissionOutcome[];
    try {
      outcomes = await admitQueued(written, limits);
    } catch (err) {
      // Nothing was stored: none of the submissions counts.
      await deps.service.giveBackSubmissions(countBy(written));
      throw err;
    }
    kept.forEach((i, j) => (out[i] = outcomes[j]!));
    await deps.service.giveBackSubmissions(countBy(written, (_, j) => !outcomes[j]!.created));
    return out as AdmissionOutcome[];
  };
}
