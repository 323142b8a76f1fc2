import type { Redis } from 'ioredis';

/** A CRITICAL or HIGH message that was sent to a user and not yet acknowledged. */
export interface UnackedMessage {
  id: string;
  channel: string;
  epoch: string;
  offset: number;
}

/**
 * What each user has been sent and not acknowledged, shared by every gateway so that a client
 * resuming on another gateway still gets it again.
 */
export interface AckStore {
  expect(userId: string, message: UnackedMessage): Promise<void>;
  ack(userId: string, id: string): Promise<void>;
  /** The user's unacknowledged messages of the channel in this epoch at or before `uptoOffset`, oldest first. */
  unacked(userId: string, channel: string, epoch: string, uptoOffset: number): Promise<UnackedMessage[]>;
}

/** Most unacknowledged messages remembered per user; the oldest give way (like the channel history does). */
const MAX_PER_USER = 1000;

const pick = (entries: Iterable<UnackedMessage>, channel: string, epoch: string, upto: number) =>
  [...entries]
    .filter((m) => m.channel === channel && m.epoch === epoch && m.offset <= upto)
    .sort((a, b) => a.offset - b.offset);

export class MemoryAckStore implements AckStore {
  readonly #users = new Map<string, Map<string, UnackedMessage>>();

  async expect(userId: string, message: UnackedMessage): Promise<void> {
    let map = this.#users.get(userId);
    if (!map) this.#users.set(userId, (map = new Map()));
    map.set(message.id, message);
    if (map.size > MAX_PER_USER) map.delete(map.keys().next().value!);
  }

  async ack(userId: string, id: string): Promise<void> {
    const map = this.#users.get(userId);
    map?.delete(id);
    if (map?.size === 0) this.#users.delete(userId);
  }

  async unacked(userId: string, channel: string, epoch: string, uptoOffset: number) {
    return pick(this.#users.get(userId)?.values() ?? [], channel, epoch, uptoOffset);
  }
}

/** A hash per user (message id → where it was), expiring with the channel history it points into. */
export class RedisAckStore implements AckStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #ttlMs: number;

  /** `ttlMs` should match the event log's history TTL: past it there is nothing left to redeliver. */
  constructor(redis: Redis, options: { prefix: string; ttlMs?: number }) {
    this.#redis = redis;
    this.#prefix = `${options.prefix}:acks:`;
    this.#ttlMs = options.ttlMs ?? 24 * 60 * 60 * 1000;
  }

  async expect(userId: string, message: UnackedMessage): Promise<void> {
    const key = this.#prefix + userId;
    const value = JSON.stringify([message.channel, message.epoch, message.offset]);
    const results = await this.#redis
      .multi()
      .hset(key, message.id, value)
      .pexpire(key, this.#ttlMs)
      .hlen(key)
      .exec();
    const size = Number(results?.[2]?.[1] ?? 0);
    if (size > MAX_PER_USER) {
      // Rare (a client that never acks): drop the oldest by offset order within what is stored.
      const all = await this.#all(userId);
      const excess = all.sort((a, b) => a.offset - b.offset).slice(0, size - MAX_PER_USER);
      if (excess.length > 0) await this.#redis.hdel(key, ...excess.map((m) => m.id));
    }
  }

  async ack(userId: string, id: string): Promise<void> {
    await this.#redis.hdel(this.#prefix + userId, id);
  }

  async unacked(userId: string, channel: string, epoch: string, uptoOffset: number) {
    const all = await this.#all(userId);
    // Entries of an earlier epoch of this channel can never be redelivered: forget them.
    const stale = all.filter((m) => m.channel === channel && m.epoch !== epoch).map((m) => m.id);
    if (stale.length > 0) await this.#redis.hdel(this.#prefix + userId, ...stale);
    return pick(all, channel, epoch, uptoOffset);
  }

  async #all(userId: string): Promise<UnackedMessage[]> {
    const raw = await this.#redis.hgetall(this.#prefix + userId);
    return Object.entries(raw).map(([id, value]) => {
      const [channel, epoch, offset] = JSON.parse(value) as [string, string, number];
      return { id, channel, epoch, offset };
    });
  }
}
