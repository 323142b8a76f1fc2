import { describe, expect, it } from 'vitest';
import { queueJobFailed } from '@crucible/contracts';
import type { EventMessage, EventPayloads, Events } from '@crucible/contracts';
import { afterFailedAttempt } from './attempts';

const message = <E extends Events>(event: E, data: EventPayloads[E]) =>
  ({
    id: 'm1',
    event,
    channel: 'job-status-t1',
    data,
    priority: 2,
    timestamp: 0,
    userId: 'u1',
    offset: 1,
    epoch: 'e1',
  }) as EventMessage;

const running = { testId: 't1', status: 'running', progress: 17 };

describe('afterFailedAttempt', () => {
  it('says the worker was lost and which attempt starts, and drops the lost attempt’s progress', () => {
    const lost = message(
      'queue:job:failed',
      queueJobFailed('t1', {
        status: 'queued',
        error: 'the worker running this test was lost',
        reason: 'worker-lost',
        retryCount: 1,
        maxAttempts: 3,
      }),
    );
    expect(afterFailedAttempt(running, lost)).toEqual({
      test: { testId: 't1', status: 'queued', progress: 0 },
      notice: 'worker lost — attempt 2 of 3 starting',
    });
  });

  it('names the error of a crashed attempt', () => {
    const crashed = message(
      'queue:job:failed',
      queueJobFailed('t1', {
        status: 'queued',
        error: 'engine crashed',
        reason: 'error',
        retryCount: 2,
        maxAttempts: 3,
      }),
    );
    expect(afterFailedAttempt(running, crashed)?.notice).toBe(
      'attempt failed (engine crashed) — attempt 3 of 3 starting',
    );
  });

  it('leaves the test alone for a final failure, a cancel or any other event', () => {
    const final = message('queue:job:failed', queueJobFailed('t1', { status: 'failed', error: 'boom' }));
    expect(afterFailedAttempt(running, final)).toBeNull();
    const cancelled = message('queue:job:failed', queueJobFailed('t1', { status: 'cancelled' }));
    expect(afterFailedAttempt(running, cancelled)).toBeNull();
    const progress = message('queue:job:progress', { jobId: 't1', testId: 't1', progress: 20 });
    expect(afterFailedAttempt(running, progress)).toBeNull();
  });
});
