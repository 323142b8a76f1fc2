import { GroupCommit } from '@crucible/runtime';
import type { GroupCommitOptions, Settled } from '@crucible/runtime';
import type { NewBatchTest } from '@crucible/db';
import type { QueuePositions } from '../queue-positions.js';
import { answerFollowers, repeatedKeys } from './batch.js';
import type { Created, Outcomes, Submitted } from './batch.js';
import { insertRows } from './insert-rows.js';
import type { BatchWriter } from './insert-rows.js';

/** Concurrent submissions, written together: one INSERT and one addBulk per flush. */
export type SubmitCommitter = GroupCommit<NewBatchTest, Submitted>;

export interface SubmitCommitterDeps {
  /** Writes a batch, held to the workspaces' quotas (`createAdmission`). */
  tests: BatchWriter;
  positions: QueuePositions;
  /** Places, announces and enqueues the created rows (`createEnqueueBatch`). */
  enqueueCreated(created: Created[], out: Outcomes): Promise<void>;
  groupCommit?: GroupCommitOptions;
}

export function createSubmitCommitter(deps: SubmitCommitterDeps): SubmitCommitter {
  const { positions } = deps;

  /**
   * One flush of the group commit: one INSERT for the whole batch, one count for the positions, one
   * pipeline of events and one addBulk. Every submission gets its own outcome.
   */
  async function commit(items: NewBatchTest[]): Promise<Settled<Submitted>[]> {
    const out: Outcomes = items.map(() => undefined);
    const { leaders, followerOf } = repeatedKeys(items);
    positions.reserve(leaders.map((i) => items[i]!.testId));
    const created = await insertRows(deps.tests, items, leaders, out);
    const made = new Set(created.map((c) => c.i));
    positions.release(leaders.filter((i) => !made.has(i)).map((i) => items[i]!.testId));
    if (created.length > 0) await deps.enqueueCreated(created, out);
    answerFollowers(items, followerOf, out);
    return out.map(
      (o) => o ?? { ok: false, error: new Error('group commit: a submission was left unanswered') },
    );
  }

  return new GroupCommit(commit, deps.groupCommit);
}
