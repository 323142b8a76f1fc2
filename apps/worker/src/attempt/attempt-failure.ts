import { DelayedError, UnrecoverableError } from 'bullmq';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { TestJobData } from '@crucible/contracts';
import type { Fence, TestAttemptsRepository } from '@crucible/db';
import { EngineError, errorMessage } from '../errors.js';
import { FenceLost, Shutdown, isPermanent } from './aborts.js';
import type { AttemptEvents } from './attempt-events.js';
import type { AttemptWrites } from './attempt-writes.js';
import type { Persist } from './persist.js';

export interface FailedAttempt {
  job: Job<TestJobData>;
  /** The job's lock token; without one a draining worker cannot move the job back. */
  token: string | undefined;
  fence: Fence;
  /** Attempts the test has in all, for the `willRetry` event. */
  maxAttempts: number;
  attempts: Pick<TestAttemptsRepository, 'handBack' | 'scheduleRetry'>;
  finishes: AttemptWrites['finishes'];
  persist: Persist;
  events: AttemptEvents;
  /** The attempt's logger. */
  log: Logger;
}

/**
 * Ends an attempt that stopped with `err` and throws what BullMQ should make of it:
 * - a draining worker hands the test back (queued, no attempt used) and delays the job;
 * - a cancelled or taken-over attempt stops without writing: whoever took the test wrote its status;
 * - a permanent failure, or the last attempt's, is stored as `failed` and never retried;
 * - anything else puts the test back to `queued` and lets BullMQ retry with backoff.
 */
export async function failAttempt(err: unknown, attempt: FailedAttempt): Promise<never> {
  const message = errorMessage(err);
  if (err instanceof Shutdown) return handBack(err, attempt);
  if (err instanceof FenceLost || (err instanceof EngineError && err.code === 'CANCELLED')) {
    attempt.log.info({ reason: message }, 'attempt stopped without writing');
    throw new UnrecoverableError(message);
  }
  const { job, fence, persist, events, log } = attempt;
  const permanent = isPermanent(err);
  if (permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
    const failed = await persist(() =>
      attempt.finishes.submit({ fence, status: 'failed', fields: { errorMessage: message } }),
    );
    if (failed) {
      log.warn({ err }, 'test failed');
      await events.failed(message);
    } else {
      log.info({ err }, 'test ended by someone else while failing');
    }
    throw permanent && !(err instanceof UnrecoverableError) ? new UnrecoverableError(message) : err;
  }
  const queued = await persist(() => attempt.attempts.scheduleRetry(fence, message));
  if (queued) {
    log.warn({ err }, 'attempt failed; BullMQ will retry');
    await events.retrying(message, queued.retry_count, attempt.maxAttempts);
    throw err;
  }
  log.info({ err }, 'test ended by someone else while retrying');
  throw new UnrecoverableError(message);
}

async function handBack(err: Shutdown, attempt: FailedAttempt): Promise<never> {
  const { job, token, fence, persist } = attempt;
  if (await persist(() => attempt.attempts.handBack(fence))) {
    attempt.log.info('handed the test back to the queue');
    await attempt.events.handedBack();
  }
  if (token) {
    await job.moveToDelayed(Date.now(), token);
    throw new DelayedError();
  }
  throw err;
}
