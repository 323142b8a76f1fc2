import { describe, expect, it } from 'vitest';
import { queueJobFailed } from '@crucible/contracts';
import type { EventMessage, EventPayloads, Events } from '@crucible/contracts';
import { afterFailedAttempt, refreshed } from './attempts';

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
/** The first attempt's worker was lost; the second of three starts. */
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

describe('afterFailedAttempt', () => {
  it('says the worker was lost and which attempt starts, and drops the lost attempt’s progress', () => {
    expect(afterFailedAttempt(running, lost)).toEqual({
      test: { testId: 't1', status: 'queued', progress: 0 },
      notice: 'worker lost — attempt 2 of 3 starting',
    });
  });

  it('counts the next attempt where the test keeps a retryCount, so a later answer of it is the same attempt', () => {
    const shown = afterFailedAttempt({ ...running, retryCount: 0 }, lost)!.test;
    expect(shown).toEqual({ testId: 't1', status: 'queued', progress: 0, retryCount: 1 });
    // The new attempt's progress events took it to 40 %; the row says 35 %.
    const live = { ...shown, status: 'running', progress: 40 };
    expect(refreshed(live, { ...live, progress: 35 }).progress).toBe(40);
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

describe('refreshed', () => {
  const answer = { status: 'running', progress: 5, retryCount: 0, attempts: [{ attempt: 1 }] };

  it('keeps the bar where the events took it within the attempt, even on a page loaded while queued', () => {
    // Loaded while queued (no attempt listed), then moved to 12 % by progress events.
    const shown = { status: 'running', progress: 12, retryCount: 0, attempts: [] as { attempt: number }[] };
    expect(refreshed(shown, answer)).toEqual({ ...answer, progress: 12 });
    expect(refreshed({ ...shown, progress: 3 }, answer).progress).toBe(5);
  });

  it('takes the answer’s progress for a later attempt, a queued page or a finished test', () => {
    const shown = { status: 'running', progress: 60, retryCount: 0, attempts: [{ attempt: 1 }] };
    expect(refreshed(shown, { ...answer, retryCount: 1 }).progress).toBe(5);
    expect(refreshed({ ...shown, status: 'queued', progress: 0 }, answer).progress).toBe(5);
    const done = { ...answer, status: 'completed', progress: 100 };
    expect(refreshed(shown, done)).toEqual(done);
    expect(refreshed(null, answer)).toEqual(answer);
  });
});
