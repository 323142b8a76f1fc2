import { DelayedError } from 'bullmq';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import { Channels, Events, Priority, channelName, createMessage } from '@crucible/contracts';
import type { EventLog, StressConnectionStore, TestJobData } from '@crucible/contracts';

/**
 * Puts a job that may not start yet back to wait (`job.moveToDelayed`: no attempt used, its row
 * stays `queued`) for `retryMs`, noting why (`store.setWaiting`, shown as the test's `waitReason`)
 * and, the first time, announcing it (`queue:job:waiting`). Throws BullMQ's `DelayedError`, which
 * the processor must let through.
 */
export async function waitAndRetry(
  job: Job<TestJobData>,
  token: string | undefined,
  reason: string,
  deps: {
    store: Pick<StressConnectionStore, 'setWaiting'>;
    eventLog: EventLog;
    logger: Logger;
    retryMs: number;
  },
): Promise<never> {
  const { testId, testType, userId } = job.data;
  // Kept a few retries past the next one, so it never lapses while the test still waits.
  if (await deps.store.setWaiting(testId, reason, deps.retryMs * 5 + 5_000)) {
    deps.logger.info({ testId, reason }, 'test waits before it starts');
    // Its cached views drop, and watchers see why it has not started.
    await deps.eventLog
      .publish(
        createMessage({
          event: Events.QUEUE_JOB_WAITING,
          channel: channelName(Channels.JOB_STATUS, { jobId: testId }),
          data: { jobId: testId, testId, testType, waitReason: reason },
          priority: Priority.HIGH,
          userId,
        }),
      )
      .catch((err: unknown) =>
        deps.logger.warn({ err, testId }, 'could not publish; the test waits all the same'),
      );
  }
  // A little spread, so the tests waiting for one thing do not all ask again at once.
  await job.moveToDelayed(Date.now() + deps.retryMs + Math.floor(Math.random() * (deps.retryMs / 4)), token);
  throw new DelayedError();
}
