import { describe, expect, it } from 'vitest';
import { createMessage } from './envelope.js';
import type { EventMessage } from './envelope.js';
import { queueJobAdded, queueJobFailed } from './event-payloads.js';
import { Events } from './events.js';

// The type checks below are compiled by `tsc --noEmit` of this package (its typecheck): an
// `@ts-expect-error` whose line compiles is itself an error, so a payload the contract stopped
// refusing fails CI.

describe('event payloads', () => {
  it('refuses a wrong payload for its event at compile time', () => {
    const channel = 'job-status-t1';
    // @ts-expect-error queue:job:added needs testType and queuePosition
    createMessage({ event: Events.QUEUE_JOB_ADDED, channel, data: { jobId: 't1', testId: 't1' } });
    createMessage({
      event: Events.QUEUE_JOB_FAILED,
      channel,
      // @ts-expect-error queue:job:failed with willRetry needs the attempt it starts
      data: { jobId: 't1', testId: 't1', status: 'queued', error: 'x', willRetry: true },
    });
    createMessage({
      event: Events.TEST_COMPLETED,
      channel,
      // @ts-expect-error test:completed carries a verdict of the catalogue, not any string
      data: { testId: 't1', status: 'completed', verdict: 'great', progress: 100, summary: {} },
    });
    // @ts-expect-error queue:status:updated is the queue counts, not another event's payload
    createMessage({ event: Events.QUEUE_STATUS_UPDATED, channel: 'queue-updates', data: { userId: 'u1' } });
    createMessage({
      event: Events.USER_ONLINE,
      channel: 'user-activity',
      // @ts-expect-error user:online names the user, nothing else
      data: { userId: 'u1', email: 'a@b' },
    });
    const ok = createMessage({
      event: Events.QUEUE_JOB_PROGRESS,
      channel,
      data: { jobId: 't1', testId: 't1', progress: 5 },
    });
    expect(ok.data.progress).toBe(5);
  });

  it('narrows a message to its payload by its event', () => {
    const message = {
      ...createMessage({
        event: Events.QUEUE_JOB_FAILED,
        channel: 'job-status-t1',
        data: queueJobFailed('t1', { status: 'cancelled' }),
      }),
      offset: 1,
      epoch: 'e',
    } as EventMessage;
    if (message.event !== Events.QUEUE_JOB_FAILED) throw new Error('narrowed away');
    expect(message.data.status).toBe('cancelled');
    // @ts-expect-error a queue:job:failed has no progress
    expect(message.data.progress).toBeUndefined();
  });

  it('queueJobAdded: the test is the job; priority and handedBack only when given', () => {
    expect(queueJobAdded({ testId: 't1', testType: 'stress', priority: 7, queuePosition: 2 })).toEqual({
      jobId: 't1',
      testId: 't1',
      testType: 'stress',
      priority: 7,
      queuePosition: 2,
    });
    const handedBack = queueJobAdded({
      testId: 't2',
      testType: 'seo',
      queuePosition: null,
      handedBack: true,
    });
    expect(handedBack).toEqual({
      jobId: 't2',
      testId: 't2',
      testType: 'seo',
      queuePosition: null,
      handedBack: true,
    });
    expect(Object.keys(handedBack)).not.toContain('priority');
  });

  it('queueJobFailed: willRetry from the status, the next attempt from the count', () => {
    expect(queueJobFailed('t1', { status: 'failed', error: 'boom' })).toEqual({
      jobId: 't1',
      testId: 't1',
      status: 'failed',
      error: 'boom',
      willRetry: false,
    });
    expect(queueJobFailed('t1', { status: 'cancelled' })).toEqual({
      jobId: 't1',
      testId: 't1',
      status: 'cancelled',
      willRetry: false,
    });
    expect(
      queueJobFailed('t1', {
        status: 'queued',
        error: 'lost',
        reason: 'worker-lost',
        retryCount: 1,
        maxAttempts: 3,
      }),
    ).toEqual({
      jobId: 't1',
      testId: 't1',
      status: 'queued',
      error: 'lost',
      reason: 'worker-lost',
      willRetry: true,
      retryCount: 1,
      attempt: 2,
      maxAttempts: 3,
    });
  });
});
