import { describe, expect, it } from 'vitest';
import type { Envelope } from '@crucible/shared/envelope';
import type { Events } from '@crucible/shared/events';
import { afterFailedAttempt } from './attempts';

const message = (event: Events, data: object): Envelope => ({
  id: 'm1',
  event,
  channel: 'job-status-t1',
  data,
  priority: 2,
  timestamp: 0,
  userId: 'u1',
  offset: 1,
  epoch: 'e1',
});

const running = { testId: 't1', status: 'running', progress: 17 };

describe('afterFailedAttempt', () => {
  it('says the worker was lost and which attempt starts, and drops the lost attempt’s progress', () => {
    const lost = message('queue:job:failed', {
      testId: 't1',
      status: 'queued',
      reason: 'worker-lost',
      willRetry: true,
      retryCount: 1,
      attempt: 2,
      maxAttempts: 3,
    });
    expect(afterFailedAttempt(running, lost)).toEqual({
      test: { testId: 't1', status: 'queued', progress: 0 },
      notice: 'worker lost — attempt 2 of 3 starting',
    });
  });

  it('names the error of a crashed attempt', () => {
    const crashed = message('queue:job:failed', {
      reason: 'error',
      error: 'engine crashed',
      willRetry: true,
      attempt: 3,
      maxAttempts: 3,
    });
    expect(afterFailedAttempt(running, crashed)?.notice).toBe(
      'attempt failed (engine crashed) — attempt 3 of 3 starting',
    );
  });

  it('leaves the test alone for a final failure, a cancel or any other event', () => {
    expect(afterFailedAttempt(running, message('queue:job:failed', { willRetry: false }))).toBeNull();
    expect(
      afterFailedAttempt(running, message('queue:job:failed', { status: 'cancelled', willRetry: false })),
    ).toBeNull();
    expect(afterFailedAttempt(running, message('queue:job:progress', { progress: 20 }))).toBeNull();
  });
});
