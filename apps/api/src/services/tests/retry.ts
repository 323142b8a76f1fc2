import type { QueueStatusPublisher } from '@crucible/backplane';
import { Channels, Events, channelName, queueJobAdded } from '@crucible/contracts';
import type { PubSub } from '@crucible/contracts';
import type { Actor } from '../workspace-access.js';
import type { TestRow, TestsRepository } from '@crucible/db';
import { HttpProblem, notFound } from '../../errors.js';
import type { Publish } from './events.js';
import { wakeDispatchers } from './submit/enqueue-batch.js';
import type { Standing } from './standing.js';

export interface RetryDeps {
  tests: Pick<TestsRepository, 'rerun'>;
  /** Where the workers' dispatchers hear that the new run waits for its turn. */
  pubsub: Pick<PubSub, 'publish'>;
  publish: Publish;
  status: Pick<QueueStatusPublisher, 'notify'>;
  standing: Pick<Standing, 'whereIs'>;
  log: { warn(obj: object, msg: string): void };
}

export function createRetry(deps: RetryDeps) {
  const { tests, publish } = deps;

  async function announceQueued(row: TestRow, position: number | null) {
    await publish(
      Events.QUEUE_JOB_ADDED,
      channelName(Channels.JOB_STATUS, { jobId: row.test_id }),
      queueJobAdded({
        testId: row.test_id,
        testType: row.test_type,
        priority: row.priority,
        queuePosition: position,
      }),
      row.user_id,
    );
    deps.status.notify();
  }

  /** Runs a failed or cancelled test again as a new run; its earlier attempts stay in the history. */
  return async function retry(user: Actor, testId: string) {
    const outcome = await tests.rerun(testId, user);
    if (outcome.outcome !== 'queued') {
      throw outcome.outcome === 'missing'
        ? notFound()
        : new HttpProblem(409, 'NOT_RETRYABLE', 'Conflict', 'Only a failed or cancelled test can be retried');
    }
    // Announced before the dispatchers may release it, so a worker's queue:job:started of the new
    // run can never come before it. The row is the record: the new run waits on its workspace's
    // list like a new test, and is released within seconds even if the wake-up is lost.
    const where = await deps.standing.whereIs(outcome.row);
    await announceQueued(outcome.row, where.queuePosition);
    await wakeDispatchers(deps.pubsub, [testId], deps.log);
    return { testId, status: 'queued' as const, ...where };
  };
}
