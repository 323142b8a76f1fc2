import { describe, expect, it } from 'vitest';
import { Events } from './events.js';
import { testEventTags } from './test-cache.js';

describe('testEventTags', () => {
  it('invalidates the test and its owner on status events only', () => {
    const data = { testId: 't1', progress: 50 };
    expect(testEventTags({ event: Events.TEST_COMPLETED, data, userId: 'u1' })).toEqual([
      'test:t1',
      'owner:u1',
    ]);
    expect(testEventTags({ event: Events.QUEUE_JOB_ADDED, data, userId: 'u1' })).toEqual([
      'test:t1',
      'owner:u1',
    ]);
    expect(testEventTags({ event: Events.TEST_PROGRESS, data, userId: 'u1' })).toEqual([]);
    expect(testEventTags({ event: Events.SYSTEM_ALERT, data: {}, userId: null })).toEqual([]);
    expect(testEventTags({ event: Events.TEST_FAILED, data: null, userId: 'u1' })).toEqual(['owner:u1']);
  });
});
