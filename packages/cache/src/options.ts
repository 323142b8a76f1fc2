import type { Redis } from 'ioredis';
import type { PubSub } from '@crucible/contracts';
import type { BreakerState } from './circuit-breaker.js';
import type { CacheError } from './errors.js';

/** Which tiers a cache uses and in which order it reads them. */
export const CacheStrategy = {
  /** This process's LRU only (embedded mode, or data that need not be shared). */
  MEMORY_ONLY: 'memory-only',
  /** Redis only: every read is a round trip, always the shared value. */
  REDIS_ONLY: 'redis-only',
  /** Memory, then Redis (a Redis hit fills memory with its remaining TTL); the bus keeps memories coherent. */
  MEMORY_FIRST: 'memory-first',
  /** Redis, with the memory tier as the fallback while Redis is unreachable. */
  REDIS_FIRST: 'redis-first',
} as const;

export type CacheStrategy = (typeof CacheStrategy)[keyof typeof CacheStrategy];

export interface CacheOptions {
  /** @defaultValue CacheStrategy.MEMORY_FIRST */
  strategy?: CacheStrategy;
  /** Redis client of the Redis tier (a `createRedis(url, 'producer')` client fails fast); required unless MEMORY_ONLY. The caller closes it. */
  redis?: Redis;
  /** Prefix of every Redis key and of the bus topic: one per app or deployment. @defaultValue 'cache' */
  prefix?: string;
  /** How the Redis tier stores values. @defaultValue 'json' */
  serializer?: 'json' | 'msgpack';
  /**
   * The invalidation bus (RedisPubSub across processes, MemoryPubSub in one process). Without it memories are not coherent. The caller closes it.
   * A tag invalidation sends its Redis script and its bus message together: give the bus a publisher on the `redis` connection (as `createRedisBackplane` does), so that Redis runs the script before any process hears the message.
   */
  bus?: PubSub;
  /** Entries the memory tier holds before evicting the least recently used. @defaultValue 1000 */
  maxEntries?: number;
  /** TTL when none is given. @defaultValue 300_000 (5 minutes) */
  ttlMs?: number;
  /** Each TTL is spread by ± this fraction (0.1 = ±10 %) so entries written together do not expire together. @defaultValue 0 */
  jitter?: number;
  /** How long `cached()` remembers that `fn` found nothing (returned undefined). 0 disables. @defaultValue 10_000 */
  negativeTtlMs?: number;
  /** How long an expired entry may still be served while one refresh runs (stale-while-revalidate). @defaultValue 0 */
  graceMs?: number;
  /** With a stale entry at hand, how long `cached()` waits for the refresh before serving the stale value. @defaultValue 0 (serve stale at once) */
  softTimeoutMs?: number;
  /** Cross-process single-flight for `cached()`: a short Redis lock, waiters poll for the value. @defaultValue false */
  lock?: boolean | { ttlMs?: number; waitMs?: number };
  /** Bound of one Redis round trip. @defaultValue 1_000 */
  redisTimeoutMs?: number;
  /** Consecutive Redis failures that open the breaker, and how long it stays open. @defaultValue {threshold: 5, resetMs: 5_000} */
  breaker?: { threshold?: number; resetMs?: number };
  /** Throw Redis and bus errors at the caller instead of counting them and degrading. @defaultValue false */
  throwOnError?: boolean;
  /** Called with every counted error (for logs). */
  onError?: (err: CacheError) => void;
}

export interface SetOptions {
  /** Tags to invalidate the entry by, within its namespace. @defaultValue `since.tags` */
  tags?: string[];
  /**
   * Store only if none of the snapshot's tags was invalidated after it was taken: for a value read
   * from the source before the snapshot's moment (what `cached()` does on its own).
   */
  since?: CacheSnapshot;
  /** Grace period of this entry. @defaultValue the cache's `graceMs` */
  graceMs?: number;
}

export interface CachedOptions extends SetOptions {
  /** @defaultValue the cache's `negativeTtlMs` */
  negativeTtlMs?: number;
  /** @defaultValue the cache's `softTimeoutMs` */
  softTimeoutMs?: number;
  /** @defaultValue the cache's `lock` */
  lock?: boolean;
}

export interface TierStats {
  hits: number;
  misses: number;
  /** hits / (hits + misses), 0 before the first lookup. */
  hitRatio: number;
}

export interface NamespaceStats extends TierStats {
  memory: TierStats;
  redis: TierStats;
  sets: number;
  deletes: number;
}

export interface CacheStats extends NamespaceStats {
  /** Entries pushed out of the memory tier by its size bound. */
  evictions: number;
  /** Redis and bus failures (each also passed to `onError`). */
  errors: number;
  memoryEntries: number;
  breaker: BreakerState;
  bus: { published: number; received: number };
  /** The same counters per namespace ('' is the root). */
  namespaces: Record<string, NamespaceStats>;
}

/** The invalidation state of some tags at one moment; see {@link Cache.snapshot}. */
export interface CacheSnapshot {
  readonly tags: readonly string[];
  /** Local invalidation sequence at that moment. */
  readonly seq: number;
  /** Redis tag versions at that moment; null when unknown (no Redis tier, or unreachable). */
  readonly versions: string[] | null;
}
