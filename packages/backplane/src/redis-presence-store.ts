import type { Redis } from 'ioredis';
import type { PresenceStore } from '@crucible/contracts';

/** Worker presence in a Redis hash per deployment, the pass lock a key with a TTL (distributed mode). */
export class RedisPresenceStore implements PresenceStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  async put(id: string, value: string): Promise<void> {
    await this.#redis.hset(`${this.#prefix}:workers`, id, value);
  }

  async remove(...ids: string[]): Promise<void> {
    if (ids.length > 0) await this.#redis.hdel(`${this.#prefix}:workers`, ...ids);
  }

  all(): Promise<Record<string, string>> {
    return this.#redis.hgetall(`${this.#prefix}:workers`);
  }

  async lock(name: string, holder: string, ms: number): Promise<boolean> {
    return (await this.#redis.set(`${this.#prefix}:lock:${name}`, holder, 'PX', ms, 'NX')) === 'OK';
  }
}
