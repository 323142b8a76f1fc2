import { readQueueCounts } from '@crucible/backplane';
import type { TestQueues, WorkerRegistry } from '@crucible/backplane';
import type { Actor } from '../workspace-access.js';
import type { TestDispatchRepository, TestsRepository } from '@crucible/db';
import type { Standing } from './standing.js';

/** How many of the caller's unfinished tests the queue status lists. */
const UNFINISHED_SHOWN = 20;

export interface QueueStatusDeps {
  tests: Pick<TestsRepository, 'unfinishedOf' | 'countByStatus'>;
  queue: TestQueues;
  registry: WorkerRegistry;
  dispatch: Pick<TestDispatchRepository, 'countWaiting'>;
  standing: Pick<Standing, 'explainAll'>;
}

export function createQueueStatus(deps: QueueStatusDeps) {
  const { tests, standing } = deps;

  /** The caller's running and queued tests, each with where it stands and why it waits. */
  async function unfinished(user: Actor) {
    const rows = await tests.unfinishedOf(user.workspaceId, UNFINISHED_SHOWN);
    if (rows.length === 0) return [];
    // One read of the queue and of the live workers for every row.
    const where = await standing.explainAll(rows);
    return rows.map((row, i) => ({
      testId: row.test_id,
      testType: row.test_type,
      name: row.test_name,
      url: row.url,
      status: row.status as 'queued' | 'running',
      priority: row.priority,
      progress: row.progress,
      ...where[i]!,
    }));
  }

  /** The caller's counts by status, the queue's counts and the caller's unfinished tests. */
  return async function queueStatus(user: Actor) {
    const [mine, counts, waiting] = await Promise.all([
      tests.countByStatus(user.workspaceId),
      readQueueCounts(deps.queue, deps.registry, () => deps.dispatch.countWaiting()),
      unfinished(user),
    ]);
    return { user: mine, queue: counts, tests: waiting };
  };
}
