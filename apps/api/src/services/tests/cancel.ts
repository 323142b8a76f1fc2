import type { QueueStatusPublisher, TestQueues } from '@crucible/backplane';
import { CANCEL_TOPIC, Channels, Events, channelName, jobIdOf, queueJobFailed } from '@crucible/contracts';
import type { CancelMessage, PubSub } from '@crucible/contracts';
import type { Actor } from '../workspace-access.js';
import type { TestsRepository } from '@crucible/db';
import { HttpProblem, notFound } from '../../errors.js';
import type { Publish } from './events.js';

export interface CancelDeps {
  tests: Pick<TestsRepository, 'cancel'>;
  queue: Pick<TestQueues, 'remove'>;
  /** Cancel requests are broadcast to every worker process on it. */
  pubsub: Pick<PubSub, 'publish'>;
  publish: Publish;
  status: Pick<QueueStatusPublisher, 'notify'>;
  log: { warn(obj: object, msg: string): void };
}

export function createCancel(deps: CancelDeps) {
  const { publish } = deps;

  /**
   * Cancels a queued or running test: the row says `cancelled` at once; a queued job is removed,
   * and every worker process is told to abort it in case it is running.
   */
  return async function cancel(user: Actor, testId: string): Promise<void> {
    const outcome = await deps.tests.cancel(testId, user);
    if (outcome.outcome !== 'cancelled') {
      throw outcome.outcome === 'missing'
        ? notFound()
        : new HttpProblem(409, 'TEST_FINISHED', 'Conflict', 'The test has already finished');
    }
    const row = outcome.row;
    const jobId = jobIdOf(testId, row.run);
    // A job being run is locked and stays; the broadcast below stops it.
    await deps.queue
      .remove(jobId)
      .catch((err: unknown) => deps.log.warn({ err, testId }, 'could not remove the job'));
    const message: CancelMessage = { testId, jobId };
    await deps.pubsub
      .publish(CANCEL_TOPIC, JSON.stringify(message))
      .catch((err: unknown) => deps.log.warn({ err, testId }, 'could not broadcast the cancel'));
    await publish(
      Events.TEST_CANCELLED,
      channelName(Channels.TEST_PROGRESS, { testId }),
      { testId, status: 'cancelled' },
      row.user_id,
    );
    await publish(
      Events.QUEUE_JOB_FAILED,
      channelName(Channels.JOB_STATUS, { jobId: testId }),
      queueJobFailed(testId, { status: 'cancelled' }),
      row.user_id,
    );
    deps.status.notify();
  };
}
