import { describe, expect, it } from 'vitest';
import { createCache } from './cache.js';
import { CacheStrategy } from './options.js';
import { MemoryEventLog, MemoryPubSub } from '@crucible/backplane';
import { Events, channelTopic, createMessage, queueJobAdded } from '@crucible/contracts';
import { HTTP_CACHE_NAMESPACE, invalidatingEventLog, testEventTags } from './test-cache.js';

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

describe('invalidatingEventLog', () => {
  it('drops the cached views of every test of a batch before publishing the batch', async () => {
    const bus = new MemoryPubSub();
    const cache = await createCache({ strategy: CacheStrategy.MEMORY_ONLY, bus });
    const http = cache.namespace(HTTP_CACHE_NAMESPACE);
    await http.set('t1', 'view of t1', 60_000, { tags: ['test:t1'] });
    await http.set('t2', 'view of t2', 60_000, { tags: ['test:t2'] });
    await http.set('list', 'u1 list', 60_000, { tags: ['owner:u1'] });
    await http.set('other', 'u2 list', 60_000, { tags: ['owner:u2'] });
    const log = invalidatingEventLog(new MemoryEventLog(bus), cache);
    const added = (testId: string) =>
      createMessage({
        event: Events.QUEUE_JOB_ADDED,
        channel: `job-status-${testId}`,
        data: queueJobAdded({ testId, testType: 'api', queuePosition: 1 }),
        userId: 'u1',
      });
    // What a subscriber could read from the cache the moment each message reaches it.
    const seenOnDelivery: unknown[] = [];
    for (const id of ['t1', 't2']) {
      await bus.subscribe(channelTopic(`job-status-${id}`), () => seenOnDelivery.push(http.getSync(id)));
    }
    const published = await log.publishAll([added('t1'), added('t2')]);
    await expect.poll(() => seenOnDelivery.length).toBe(2);
    expect(seenOnDelivery).toEqual([undefined, undefined]);
    expect(published.map((m) => m.offset)).toEqual([1, 1]);
    expect(await http.get('t1')).toBeUndefined();
    expect(await http.get('t2')).toBeUndefined();
    expect(await http.get('list')).toBeUndefined();
    expect(await http.get('other')).toBe('u2 list');
    await cache.close();
    await bus.close();
  });

  it("drops only the owners' lists for tests the same write created", async () => {
    const bus = new MemoryPubSub();
    const cache = await createCache({ strategy: CacheStrategy.MEMORY_ONLY, bus });
    const http = cache.namespace(HTTP_CACHE_NAMESPACE);
    // Nothing can cache a test before it exists; an entry under its tag shows the tag is not touched.
    await http.set('t1', 'view of t1', 60_000, { tags: ['test:t1'] });
    await http.set('list', 'u1 list', 60_000, { tags: ['owner:u1'] });
    await http.set('all', 'admin list', 60_000, { tags: ['tests:all'] });
    const log = invalidatingEventLog(new MemoryEventLog(bus), cache);
    await log.publishAll(
      [
        createMessage({
          event: Events.QUEUE_JOB_ADDED,
          channel: 'job-status-t1',
          data: queueJobAdded({ testId: 't1', testType: 'api', queuePosition: 1 }),
          userId: 'u1',
        }),
      ],
      { created: true },
    );
    expect(await http.get('list')).toBeUndefined();
    expect(await http.get('all')).toBeUndefined();
    expect(await http.get('t1')).toBe('view of t1');
    await cache.close();
    await bus.close();
  });
});
