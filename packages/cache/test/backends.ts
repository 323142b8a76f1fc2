import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { Redis } from 'ioredis';
import { MemoryPubSub, RedisPubSub, createRedis } from '@crucible/backplane';
import { CacheStrategy, createCache } from '../src/index.js';
import type { Cache, CacheOptions } from '../src/index.js';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * One way of running the cache that the conformance suite checks. Instances created by one backend
 * behave like separate processes of one deployment: they share what the backend shares (Redis) and
 * hear each other on the bus, each through its own connections.
 */
export interface CacheBackend {
  create(options?: CacheOptions): Promise<Cache>;
  /** Closes every instance and connection and deletes the test's keys. */
  close(): Promise<void>;
}

export interface BackendFactory {
  /** Entries written by one instance are readable by another (a shared tier). */
  shared: boolean;
  /** Instances have a memory tier (and so listen to the bus). */
  memory: boolean;
  start(): Promise<CacheBackend>;
}

/** A producer client that is connected (a producer refuses commands before it is ready). */
export async function connectedRedis(url = REDIS_URL): Promise<Redis> {
  const redis = createRedis(url, 'producer');
  if (redis.status !== 'ready') await once(redis, 'ready');
  return redis;
}

/** Deletes every key of a prefix (SCAN + UNLINK). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/** Memory tier with the in-process bus: the embedded mode's cache. */
export function memoryBackend(): BackendFactory {
  return {
    shared: false,
    memory: true,
    start: async () => {
      const bus = new MemoryPubSub();
      const caches: Cache[] = [];
      return {
        async create(options = {}) {
          const cache = await createCache({ strategy: CacheStrategy.MEMORY_ONLY, bus, ...options });
          caches.push(cache);
          return cache;
        },
        async close() {
          for (const c of caches) await c.close();
          await bus.close();
        },
      };
    },
  };
}

/** A Redis-backed strategy; each instance has its own command and subscriber connections. */
export function redisBackend(
  strategy: CacheStrategy,
  serializer: 'json' | 'msgpack' = 'json',
): BackendFactory {
  return {
    shared: true,
    memory: strategy !== CacheStrategy.REDIS_ONLY,
    start: async () => {
      const prefix = `t-${randomUUID()}`;
      const opened: { cache: Cache; redis: Redis; bus: RedisPubSub }[] = [];
      return {
        async create(options = {}) {
          const redis = await connectedRedis();
          const bus = new RedisPubSub({
            subscriber: createRedis(REDIS_URL, 'subscriber'),
            publisher: redis,
            prefix,
          });
          const cache = await createCache({
            strategy,
            serializer,
            redis,
            bus,
            prefix: `${prefix}:cache`,
            ...options,
          });
          opened.push({ cache, redis, bus });
          return cache;
        },
        async close() {
          for (const { cache, bus } of opened) {
            await cache.close();
            await bus.close();
          }
          const cleaner = await connectedRedis();
          await deletePrefix(cleaner, prefix);
          cleaner.disconnect();
          for (const { redis } of opened) redis.disconnect();
        },
      };
    },
  };
}
