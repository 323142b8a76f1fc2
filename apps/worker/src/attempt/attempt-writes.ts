import { GroupCommit } from '@crucible/runtime';
import type { TestAttemptsRepository } from '@crucible/db';

type Start = Parameters<TestAttemptsRepository['startAttempts']>[0][number];
type Started = Awaited<ReturnType<TestAttemptsRepository['startAttempts']>>[number];
type Finish = Parameters<TestAttemptsRepository['finishAttempts']>[0][number];
type Finished = Awaited<ReturnType<TestAttemptsRepository['finishAttempts']>>[number];

/** The writes that open and close attempts, batched across the jobs running in this process. */
export interface AttemptWrites {
  starts: GroupCommit<Start, Started>;
  finishes: GroupCommit<Finish, Finished>;
}

/**
 * Rows of one batch are locked in no particular order, so two batches (of two workers) over the
 * same tests may deadlock; PostgreSQL then fails one of them, whose items are written one by one.
 */
async function oneByOneOnDeadlock<I, O>(items: I[], write: (batch: I[]) => Promise<O[]>): Promise<O[]> {
  try {
    return await write(items);
  } catch (err) {
    if (items.length < 2 || (err as { code?: unknown }).code !== '40P01') throw err;
    const results: O[] = [];
    for (const item of items) results.push(...(await write([item])));
    return results;
  }
}

/**
 * Starts and results of the jobs running here share statements when they come together.
 * A test's writes never share a statement or overtake each other (key); a batch stands or falls
 * as one, and each caller's own retry submits its item again.
 */
export function createAttemptWrites(attempts: TestAttemptsRepository): AttemptWrites {
  const starts = new GroupCommit(
    GroupCommit.allOrNothing((items: Start[]) =>
      oneByOneOnDeadlock(items, (batch) => attempts.startAttempts(batch)),
    ),
    { key: (item) => item.testId, maxBatch: 64, maxInFlight: 2 },
  );
  const finishes = new GroupCommit(
    GroupCommit.allOrNothing((items: Finish[]) =>
      oneByOneOnDeadlock(items, (batch) => attempts.finishAttempts(batch)),
    ),
    { key: (item) => item.fence.testId, maxBatch: 64, maxInFlight: 2 },
  );
  return { starts, finishes };
}
