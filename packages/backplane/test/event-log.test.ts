import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Events, channelTopic, createMessage } from '@crucible/contracts';
import type { Envelope, EventLog, PubSub } from '@crucible/contracts';
import { MemoryEventLog, MemoryPubSub, RedisEventLog, RedisPubSub, channelKeys } from '../src/index.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** One backend of the event log, as the conformance suite drives it. */
interface Backend {
  /** The bus the log publishes on. */
  pubsub: PubSub;
  log(options?: { maxLen?: number }): EventLog;
  /** Loses the channel's history the way this backend can (Redis flushed, process restarted). */
  loseHistory(log: EventLog, channel: string): Promise<EventLog>;
  close(): Promise<void>;
}

const backends: Record<string, () => Promise<Backend>> = {
  redis: async () => {
    const prefix = `t-${randomUUID()}`;
    const redis = new Redis(REDIS_URL);
    const pubsub = new RedisPubSub({ subscriber: new Redis(REDIS_URL), publisher: redis, prefix });
    return {
      pubsub,
      log: (options) => new RedisEventLog(redis, { prefix, ...options }),
      async loseHistory(log, channel) {
        await redis.unlink(channelKeys(prefix, channel).epoch);
        return log;
      },
      async close() {
        await pubsub.close();
        for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 500 }) as AsyncIterable<
          string[]
        >) {
          if (keys.length) await redis.unlink(...keys);
        }
        redis.disconnect();
      },
    };
  },
  memory: async () => {
    const pubsub = new MemoryPubSub();
    return {
      pubsub,
      log: (options) => new MemoryEventLog(pubsub, options),
      // The memory log's history lives as long as its process: a restart is a new instance.
      loseHistory: async () => new MemoryEventLog(pubsub),
      close: () => pubsub.close(),
    };
  },
};

describe.each(Object.keys(backends))('event log conformance: %s', (name) => {
  let backend: Backend;

  beforeEach(async () => {
    backend = await backends[name]!();
  });
  afterEach(async () => {
    await backend.close();
  });

  const draft = (channel: string, n: number) =>
    createMessage({ event: Events.TEST_PROGRESS, channel, data: { testId: 't', n }, userId: 'u1' });

  it('gives consecutive offsets within one epoch and publishes exactly what it stores', async () => {
    const log = backend.log();
    const channel = 'test-progress-a';
    const live: Envelope[] = [];
    await backend.pubsub.subscribe(channelTopic(channel), (raw) => live.push(JSON.parse(raw) as Envelope));

    const published = [];
    for (let i = 0; i < 5; i++) published.push(await log.publish(draft(channel, i)));
    expect(published.map((m) => m.offset)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(published.map((m) => m.epoch)).size).toBe(1);
    expect(published[0]!.data).toEqual({ testId: 't', n: 0 });

    await expect.poll(() => live.length).toBe(5);
    expect(live).toEqual(published);

    const all = await log.recover(channel, 0);
    expect(all).toMatchObject({ epoch: published[0]!.epoch, offset: 5, complete: true });
    expect(all.messages).toEqual(published);

    const tail = await log.recover(channel, 3);
    expect(tail.messages.map((m) => m.offset)).toEqual([4, 5]);
    expect(tail.complete).toBe(true);

    const none = await log.recover(channel, 5);
    expect(none.messages).toEqual([]);
    expect(none.complete).toBe(true);
  });

  it('publishes a lot in order, as one publish after another would', async () => {
    const log = backend.log();
    const live: Envelope[] = [];
    for (const channel of ['test-progress-lot', 'job-status-lot']) {
      await backend.pubsub.subscribe(channelTopic(channel), (raw) => live.push(JSON.parse(raw) as Envelope));
    }
    await log.publish(draft('test-progress-lot', 0));
    const lot = await log.publishAll([
      draft('test-progress-lot', 1),
      draft('job-status-lot', 2),
      draft('test-progress-lot', 3),
    ]);
    expect(lot.map((m) => [m.channel, m.offset, m.data])).toEqual([
      ['test-progress-lot', 2, { testId: 't', n: 1 }],
      ['job-status-lot', 1, { testId: 't', n: 2 }],
      ['test-progress-lot', 3, { testId: 't', n: 3 }],
    ]);
    await expect.poll(() => live.length).toBe(4);
    expect(live.filter((m) => m.channel === 'test-progress-lot').map((m) => m.offset)).toEqual([1, 2, 3]);
    expect((await log.recover('test-progress-lot', 1)).messages).toEqual([lot[0], lot[2]]);
    expect(await log.publishAll([])).toEqual([]);
  });

  it('keeps channels apart', async () => {
    const log = backend.log();
    await log.publish(draft('test-progress-x', 1));
    const y = await log.publish(draft('test-progress-y', 2));
    expect(y.offset).toBe(1);
    expect((await log.recover('test-progress-x', 0)).messages.map((m) => m.data)).toEqual([
      { testId: 't', n: 1 },
    ]);
  });

  it('reports an empty channel as complete with no epoch', async () => {
    const log = backend.log();
    expect(await log.recover('test-progress-empty', 0)).toEqual({
      epoch: null,
      offset: 0,
      messages: [],
      complete: true,
    });
  });

  it('reports trimmed history as incomplete', async () => {
    const log = backend.log({ maxLen: 1 });
    const channel = 'test-progress-trim';
    // Redis's MAXLEN ~ trims whole radix-tree nodes, so publish enough that the oldest are surely gone.
    for (let i = 0; i < 300; i++) await log.publish(draft(channel, i));
    const rec = await log.recover(channel, 0);
    expect(rec.offset).toBe(300);
    expect(rec.complete).toBe(false);
    expect(rec.messages.at(-1)!.offset).toBe(300);
  });

  it('starts a new epoch when the history is lost', async () => {
    const channel = 'test-progress-lost';
    const before = backend.log();
    const first = await before.publish(draft(channel, 1));
    await before.publish(draft(channel, 2));
    const log = await backend.loseHistory(before, channel);
    const after = await log.publish(draft(channel, 3));
    expect(after.offset).toBe(1);
    expect(after.epoch).not.toBe(first.epoch);
    const rec = await log.recover(channel, 0);
    expect(rec.messages.map((m) => m.data)).toEqual([{ testId: 't', n: 3 }]);
  });
});

describe('RedisEventLog', () => {
  it('starts a new epoch, not a broken channel, when only the offset key is lost', async () => {
    const prefix = `t-${randomUUID()}`;
    const redis = new Redis(REDIS_URL);
    try {
      const log = new RedisEventLog(redis, { prefix });
      const channel = 'test-progress-partial-loss';
      const { offset, epoch, stream } = channelKeys(prefix, channel);
      const draft = (n: number) =>
        createMessage({ event: Events.TEST_PROGRESS, channel, data: { testId: 't', n } });
      const first = await log.publish(draft(1));
      await log.publish(draft(2));
      await redis.unlink(offset);
      const after = await log.publish(draft(3));
      expect(after).toMatchObject({ offset: 1, data: { n: 3 } });
      expect(after.epoch).not.toBe(first.epoch);
      expect((await log.publish(draft(4))).offset).toBe(2);
      const rec = await log.recover(channel, 0);
      expect(rec.messages.map((m) => m.data)).toEqual([
        { testId: 't', n: 3 },
        { testId: 't', n: 4 },
      ]);
      for (const key of [offset, epoch, stream]) expect(await redis.pttl(key)).toBeGreaterThan(0);
    } finally {
      await redis.unlink(...Object.values(channelKeys(prefix, 'test-progress-partial-loss')).slice(0, 3));
      redis.disconnect();
    }
  });
});

describe('MemoryEventLog', () => {
  it('forgets a channel once it has been quiet for ttlMs, so memory stays bounded', async () => {
    let now = 1_000;
    const log = new MemoryEventLog(new MemoryPubSub(), { ttlMs: 100, now: () => now });
    const old = await log.publish(
      createMessage({ event: Events.TEST_PROGRESS, channel: 'test-progress-old', data: { testId: 'old' } }),
    );
    now += 50;
    await log.publish(
      createMessage({ event: Events.TEST_PROGRESS, channel: 'test-progress-new', data: { testId: 'new' } }),
    );
    now += 60;
    expect(await log.recover('test-progress-old', 0)).toEqual({
      epoch: null,
      offset: 0,
      messages: [],
      complete: true,
    });
    expect((await log.recover('test-progress-new', 0)).offset).toBe(1);
    const again = await log.publish(
      createMessage({ event: Events.TEST_PROGRESS, channel: 'test-progress-old', data: { testId: 'old' } }),
    );
    expect(again.offset).toBe(1);
    expect(again.epoch).not.toBe(old.epoch);
  });
});
