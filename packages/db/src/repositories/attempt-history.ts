import type { TestStatus } from '@crucible/contracts';
import type { Transaction } from 'kysely';
import type { AttemptStatus, Database } from '../types.js';

/** A test with a run under way: queued, or running one of its attempts. */
export const UNSETTLED: TestStatus[] = ['queued', 'running'];

/**
 * Closes the test's open attempts in `trx`: the history write of a transition that ends the run
 * without a fence (a cancel, the reconciler's failure), in the same transaction as the test's row.
 */
export async function closeOpenAttempts(
  trx: Transaction<Database>,
  testId: string,
  status: AttemptStatus,
  errorMessage: string,
): Promise<void> {
  await trx
    .updateTable('test_attempts')
    .set({ status, error_message: errorMessage, finished_at: new Date() })
    .where('test_id', '=', testId)
    .where('finished_at', 'is', null)
    .execute();
}
