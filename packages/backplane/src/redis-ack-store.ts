import type { Redis } from 'ioredis';
import type { AckStore, UnackedMessage } from '@crucible/contracts';
import { MAX_PER_USER, unackedUpTo } from './unacked.js';

/** Records one expected ack and answers how many the user has: one command, where MULTI took five. */
const EXPECT_SCRIPT = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return redis.call('HLEN', KEYS[1])
`;

type RedisWithExpect = Redis & {
  crucibleAckExpect(key: string, id: string, value: string, ttlMs: number): Promise<number>;
};

/** A hash per user (message id → where it was), expiring with the channel history it points into. */
export class RedisAckStore implements AckStore {
  readonly #redis: RedisWithExpect;
  readonly #prefix: string;
  readonly #ttlMs: number;

  /** `ttlMs` should match the event log's history TTL: past it there is nothing left to redeliver. */
  constructor(redis: Redis, options: { prefix: string; ttlMs?: number }) {
    if (!('crucibleAckExpect' in redis)) {
      redis.defineCommand('crucibleAckExpect', { numberOfKeys: 1, lua: EXPECT_SCRIPT });
    }
    this.#redis = redis as RedisWithExpect;
    this.#prefix = `${options.prefix}:acks:`;
    this.#ttlMs = options.ttlMs ?? 24 * 60 * 60 * 1000;
  }

  async expect(userId: string, message: UnackedMessage): Promise<void> {
    const key = this.#prefix + userId;
    const value = JSON.stringify([message.channel, message.epoch, message.offset]);
    const size = await this.#redis.crucibleAckExpect(key, message.id, value, this.#ttlMs);
    if (size > MAX_PER_USER) await this.#trim(userId);
  }

  /** Rare (a client that never acks): drops the oldest by offset order within what is stored. */
  async #trim(userId: string): Promise<void> {
    const all = await this.#all(userId);
    const excess = all.sort((a, b) => a.offset - b.offset).slice(0, all.length - MAX_PER_USER);
    if (excess.length > 0) await this.#redis.hdel(this.#prefix + userId, ...excess.map((m) => m.id));
  }

  async ack(userId: string, id: string): Promise<void> {
    await this.#redis.hdel(this.#prefix + userId, id);
  }

  async writeAll(
    expects: ReadonlyMap<string, ReadonlyMap<string, UnackedMessage>>,
    acks: ReadonlyMap<string, ReadonlySet<string>>,
  ): Promise<void> {
    // One pipeline: one write to the socket and one round trip, where a command each took many.
    const pipeline = this.#redis.pipeline() as ReturnType<Redis['pipeline']> & {
      crucibleAckExpect(key: string, id: string, value: string, ttlMs: number): unknown;
    };
    const expected: string[] = [];
    for (const [userId, messages] of expects) {
      for (const message of messages.values()) {
        const value = JSON.stringify([message.channel, message.epoch, message.offset]);
        pipeline.crucibleAckExpect(this.#prefix + userId, message.id, value, this.#ttlMs);
        expected.push(userId);
      }
    }
    // Queued after the expectations on the same connection, so Redis applies them after too.
    for (const [userId, ids] of acks) if (ids.size > 0) pipeline.hdel(this.#prefix + userId, ...ids);
    if (pipeline.length === 0) return;
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
    const over = new Set(expected.filter((_, i) => Number(results[i]![1]) > MAX_PER_USER));
    for (const userId of over) await this.#trim(userId);
  }

  async unacked(userId: string, channel: string, epoch: string, uptoOffset: number) {
    const all = await this.#all(userId);
    // Entries of an earlier epoch of this channel can never be redelivered: forget them.
    const stale = all.filter((m) => m.channel === channel && m.epoch !== epoch).map((m) => m.id);
    if (stale.length > 0) await this.#redis.hdel(this.#prefix + userId, ...stale);
    return unackedUpTo(all, channel, epoch, uptoOffset);
  }

  async #all(userId: string): Promise<UnackedMessage[]> {
    const raw = await this.#redis.hgetall(this.#prefix + userId);
    return Object.entries(raw).map(([id, value]) => {
      const [channel, epoch, offset] = JSON.parse(value) as [string, string, number];
      return { id, channel, epoch, offset };
    });
  }
}
