import { describe, expect, it } from 'vitest';
import { Events } from './events.js';
import { testEventTags } from './test-cache.js';

describe('testEventTags', () => {
  const data = { testId: 't1', progress: 50 };

  it("invalidates the test, its owner's views and the all-users lists on a status change", () => {
    for (const event of [
      Events.TEST_STARTED,
      Events.TEST_COMPLETED,
      Events.TEST_FAILED,
      Events.TEST_CANCELLED,
      Events.QUEUE_JOB_ADDED,
      Events.TEST_RECORD_DELETED,
    ]) {
      expect(testEventTags({ event, data, userId: 'u1' }), event).toEqual([
        'test:t1',
        'owner:u1',
        'tests:all',
      ]);
    }
    expect(testEventTags({ event: Events.TEST_FAILED, data: null, userId: 'u1' })).toEqual([
      'owner:u1',
      'tests:all',
    ]);
    expect(testEventTags({ event: Events.TEST_COMPLETED, data, userId: null })).toEqual([
      'test:t1',
      'tests:all',
    ]);
  });

  it('invalidates once per status change: not again for the job-channel twin of a test event', () => {
    expect(testEventTags({ event: Events.QUEUE_JOB_STARTED, data, userId: 'u1' })).toEqual([]);
    expect(testEventTags({ event: Events.QUEUE_JOB_COMPLETED, data, userId: 'u1' })).toEqual([]);
    const failed = { testId: 't1', status: 'failed', willRetry: false };
    expect(testEventTags({ event: Events.QUEUE_JOB_FAILED, data: failed, userId: 'u1' })).toEqual([]);
    // An attempt that will be retried is announced on the job channel alone: the row is queued again.
    const retrying = { testId: 't1', status: 'queued', willRetry: true };
    expect(testEventTags({ event: Events.QUEUE_JOB_FAILED, data: retrying, userId: 'u1' })).toEqual([
      'test:t1',
      'owner:u1',
      'tests:all',
    ]);
  });

  it('never invalidates on progress or on events about no test', () => {
    expect(testEventTags({ event: Events.TEST_PROGRESS, data, userId: 'u1' })).toEqual([]);
    expect(testEventTags({ event: Events.QUEUE_JOB_PROGRESS, data, userId: 'u1' })).toEqual([]);
    expect(testEventTags({ event: Events.QUEUE_STATUS_UPDATED, data: {}, userId: null })).toEqual([]);
    expect(testEventTags({ event: Events.SYSTEM_ALERT, data: {}, userId: null })).toEqual([]);
  });
});
