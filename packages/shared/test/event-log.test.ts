import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Events } from '../src/events.js';
import { createMessage } from '../src/envelope.js';
import type { Envelope } from '../src/envelope.js';
import { RedisEventLog, channelKeys } from '../src/event-log.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('RedisEventLog', () => {
  const prefix = `t-${randomUUID()}`;
  let redis: Redis;
  let sub: Redis;

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
    sub = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 500 }) as AsyncIterable<
      string[]
    >) {
      if (keys.length) await redis.unlink(...keys);
    }
    redis.disconnect();
    sub.disconnect();
  });

  const draft = (channel: string, n: number) =>
    createMessage({ event: Events.TEST_PROGRESS, channel, data: { n }, userId: 'u1' });

  it('gives consecutive offsets within one epoch and publishes exactly what it stores', async () => {
    const log = new RedisEventLog(redis, { prefix });
    const channel = 'test-progress-a';
    const live: Envelope[] = [];
    await sub.subscribe(channelKeys(prefix, channel).pubsub);
    sub.on('message', (_c, raw: string) => live.push(JSON.parse(raw) as Envelope));

    const published = [];
    for (let i = 0; i < 5; i++) published.push(await log.publish(draft(channel, i)));
    expect(published.map((m) => m.offset)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(published.map((m) => m.epoch)).size).toBe(1);
    expect(published[0]!.data).toEqual({ n: 0 });

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

  it('reports an empty channel as complete with no epoch', async () => {
    const log = new RedisEventLog(redis, { prefix });
    expect(await log.recover('test-progress-empty', 0)).toEqual({
      epoch: null,
      offset: 0,
      messages: [],
      complete: true,
    });
  });

  it('reports trimmed history as incomplete', async () => {
    const log = new RedisEventLog(redis, { prefix, maxLen: 1 });
    const channel = 'test-progress-trim';
    // MAXLEN ~ trims whole radix-tree nodes, so publish enough that the oldest are surely gone.
    for (let i = 0; i < 300; i++) await log.publish(draft(channel, i));
    const rec = await log.recover(channel, 0);
    expect(rec.offset).toBe(300);
    expect(rec.complete).toBe(false);
    expect(rec.messages.at(-1)!.offset).toBe(300);
  });

  it('starts a new epoch when the history is lost', async () => {
    const log = new RedisEventLog(redis, { prefix });
    const channel = 'test-progress-lost';
    const first = await log.publish(draft(channel, 1));
    await log.publish(draft(channel, 2));
    const keys = channelKeys(prefix, channel);
    await redis.unlink(keys.epoch);
    const after = await log.publish(draft(channel, 3));
    expect(after.offset).toBe(1);
    expect(after.epoch).not.toBe(first.epoch);
    const rec = await log.recover(channel, 0);
    expect(rec.messages.map((m) => m.data)).toEqual([{ n: 3 }]);
  });
});
