import { CacheBus } from './bus.js';
import type { Invalidation } from './bus.js';
import { CircuitBreaker } from './circuit-breaker.js';
import type { CacheError } from './errors.js';
import { CacheStrategy } from './options.js';
import type { CacheOptions } from './options.js';
import { jsonSerializer, msgpackSerializer } from './serializer.js';
import type { Serializer } from './serializer.js';
import { Counters } from './stats.js';
import { InvalidationClock } from './tags.js';
import { MemoryTier } from './tiers/memory-tier.js';
import { RedisTier } from './tiers/redis-tier.js';

/** State shared by a root cache and all its namespaces: the options, the tiers, the bus, the clock. */
export class Core {
  readonly strategy: CacheStrategy;
  readonly prefix: string;
  readonly memory: MemoryTier | undefined;
  readonly redis: RedisTier | undefined;
  readonly serializer: Serializer;
  readonly breaker: CircuitBreaker;
  readonly bus: CacheBus | undefined;
  readonly clock = new InvalidationClock();
  readonly ttlMs: number;
  readonly jitter: number;
  readonly negativeTtlMs: number;
  readonly graceMs: number;
  readonly softTimeoutMs: number;
  readonly lock: { ttlMs: number; waitMs: number } | undefined;
  readonly throwOnError: boolean;
  readonly onError: (err: CacheError) => void;
  readonly counters = new Map<string, Counters>();
  readonly inflight = new Map<string, Promise<unknown>>();
  readonly refreshing = new Map<string, Promise<unknown>>();
  errors = 0;

  constructor(options: CacheOptions) {
    this.strategy = options.strategy ?? CacheStrategy.MEMORY_FIRST;
    this.prefix = options.prefix ?? 'cache';
    this.ttlMs = options.ttlMs ?? 300_000;
    this.jitter = options.jitter ?? 0;
    if (this.jitter < 0 || this.jitter >= 1) throw new RangeError('cache: jitter must be in [0, 1)');
    this.negativeTtlMs = options.negativeTtlMs ?? 10_000;
    this.graceMs = options.graceMs ?? 0;
    this.softTimeoutMs = options.softTimeoutMs ?? 0;
    this.lock = options.lock
      ? {
          ttlMs: (typeof options.lock === 'object' && options.lock.ttlMs) || 5_000,
          waitMs: (typeof options.lock === 'object' && options.lock.waitMs) || 5_000,
        }
      : undefined;
    this.throwOnError = options.throwOnError ?? false;
    this.serializer = options.serializer === 'msgpack' ? msgpackSerializer : jsonSerializer;
    this.breaker = new CircuitBreaker({
      threshold: options.breaker?.threshold ?? 5,
      resetMs: options.breaker?.resetMs ?? 5_000,
    });
    const onError = options.onError;
    this.onError = (err) => {
      this.errors++;
      onError?.(err);
    };
    const usesMemory = this.strategy !== CacheStrategy.REDIS_ONLY;
    const usesRedis = this.strategy !== CacheStrategy.MEMORY_ONLY;
    if (usesRedis && !options.redis)
      throw new TypeError(`cache: strategy ${this.strategy} needs a redis client`);
    this.memory = usesMemory ? new MemoryTier(options.maxEntries ?? 1000) : undefined;
    this.redis =
      usesRedis && options.redis
        ? new RedisTier({
            redis: options.redis,
            breaker: this.breaker,
            timeoutMs: options.redisTimeoutMs ?? 1_000,
            binary: this.serializer.name === 'msgpack',
            throwOnError: this.throwOnError,
            onError: this.onError,
          })
        : undefined;
    this.bus = options.bus
      ? new CacheBus({
          pubsub: options.bus,
          prefix: this.prefix,
          throwOnError: this.throwOnError,
          onError: this.onError,
        })
      : undefined;
  }

  countersOf(ns: string): Counters {
    let c = this.counters.get(ns);
    if (!c) this.counters.set(ns, (c = new Counters()));
    return c;
  }

  /** Another process changed entries: drop them from this process's memory tier. */
  invalidateMemory(message: Invalidation): void {
    const memory = this.memory;
    if (!memory) return;
    if (message.type === 'keys') {
      for (const key of message.keys) memory.delete(key);
      this.clock.bump(message.keys);
    } else if (message.type === 'tags') {
      for (const tag of message.tags) memory.deleteByTag(tag);
      this.clock.bump(message.tags);
    } else if (message.type === 'pattern') {
      memory.deleteMatching(message.pattern);
      this.clock.bumpPattern();
    }
  }

  jittered(ttlMs: number): number {
    if (this.jitter === 0) return ttlMs;
    return Math.max(1, Math.round(ttlMs * (1 + (Math.random() * 2 - 1) * this.jitter)));
  }
}
