import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { PubSub, PubSubHandler } from '../pubsub.js';
import { CircuitBreaker } from './circuit-breaker.js';
import type { BreakerState } from './circuit-breaker.js';
import { CacheError, CacheErrorCode } from './errors.js';
import { escapeGlob } from './glob.js';
import { MemoryTier } from './memory-tier.js';
import type { MemoryEntry } from './memory-tier.js';
import { FAILED, RedisTier } from './redis-tier.js';
import { jsonSerializer, msgpackSerializer } from './serializer.js';
import type { Serializer } from './serializer.js';

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

/** A bus message: which memory entries other processes must drop. */
type BusMessage =
  | { s: string; type: 'keys'; keys: string[] }
  | { s: string; type: 'tags'; tags: string[] }
  | { s: string; type: 'pattern'; pattern: string };

/**
 * What Redis stores: the value, its logical expiry (ms since epoch; Redis keeps the key `g` ms
 * longer, the grace), its tags, whether it is a negative entry. Carrying the expiry makes a read
 * one GET, and a memory copy filled from it expires with the Redis entry, not after a default TTL.
 */
interface Stored {
  v?: unknown;
  x: number;
  g: number;
  t?: string[];
  n?: 1;
}

class Counters {
  hits = 0;
  misses = 0;
  memoryHits = 0;
  memoryMisses = 0;
  redisHits = 0;
  redisMisses = 0;
  sets = 0;
  deletes = 0;
}

/** The invalidation state of some tags at one moment; see {@link Cache.snapshot}. */
export interface CacheSnapshot {
  readonly tags: readonly string[];
  /** Local invalidation sequence at that moment. */
  readonly seq: number;
  /** Redis tag versions at that moment; null when unknown (no Redis tier, or unreachable). */
  readonly versions: string[] | null;
}

const NAMESPACE_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const LOCK_POLL_MS = 25;

/** State shared by a root cache and all its namespaces. */
class Core {
  readonly id = randomUUID();
  readonly strategy: CacheStrategy;
  readonly prefix: string;
  readonly memory: MemoryTier | undefined;
  readonly redis: RedisTier | undefined;
  readonly serializer: Serializer;
  readonly breaker: CircuitBreaker;
  readonly bus: PubSub | undefined;
  readonly topic: string;
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
  published = 0;
  received = 0;
  /**
   * Local invalidation clock: each invalidation (own or from the bus) takes the next number and
   * records it per tag / key; a computation that started before stores nothing in memory.
   */
  seq = 0;
  patternSeq = 0;
  seqFloor = 0;
  readonly seqOf = new LRUCache<string, number>({
    max: 10_000,
    dispose: (value, _key, reason) => {
      if (reason === 'evict') this.seqFloor = Math.max(this.seqFloor, value);
    },
  });
  busHandler: PubSubHandler | undefined;

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
    this.bus = options.bus;
    this.topic = `cache:${this.prefix}`;
  }

  counters_(ns: string): Counters {
    let c = this.counters.get(ns);
    if (!c) this.counters.set(ns, (c = new Counters()));
    return c;
  }

  /** Marks tags / keys as invalidated now (see `seq`). */
  bump(names: string[]): void {
    this.seq++;
    for (const name of names) this.seqOf.set(name, this.seq);
  }

  bumpPattern(): void {
    this.patternSeq = ++this.seq;
  }

  invalidatedSince(names: string[], since: number): boolean {
    if (this.patternSeq > since) return true;
    for (const name of names) {
      if ((this.seqOf.get(name) ?? this.seqFloor) > since) return true;
    }
    return false;
  }

  async publish(message: BusMessage): Promise<void> {
    if (!this.bus) return;
    try {
      await this.bus.publish(this.topic, JSON.stringify(message));
      this.published++;
    } catch (err) {
      const error = new CacheError(CacheErrorCode.BUS, 'cache bus publish failed', { cause: err });
      this.onError(error);
      if (this.throwOnError) throw error;
    }
  }

  /** Another process changed entries: drop them from this process's memory tier. */
  receive(payload: string): void {
    let message: BusMessage;
    try {
      message = JSON.parse(payload) as BusMessage;
    } catch {
      return;
    }
    if (message.s === this.id || !this.memory) return;
    this.received++;
    if (message.type === 'keys') {
      for (const key of message.keys) this.memory.delete(key);
      this.bump(message.keys);
    } else if (message.type === 'tags') {
      for (const tag of message.tags) this.memory.deleteByTag(tag);
      this.bump(message.tags);
    } else if (message.type === 'pattern') {
      this.memory.deleteMatching(message.pattern);
      this.bumpPattern();
    }
  }

  jittered(ttlMs: number): number {
    if (this.jitter === 0) return ttlMs;
    return Math.max(1, Math.round(ttlMs * (1 + (Math.random() * 2 - 1) * this.jitter)));
  }
}

/** A lookup result: the entry and whether it is past its TTL (only servable within its grace). */
interface Found {
  entry: MemoryEntry;
  stale: boolean;
}

/**
 * A two-tier cache (memory LRU + Redis) kept coherent across processes by a bus, with single-flight,
 * cross-process locks, negative caching, stale-while-revalidate, TTL jitter and a circuit breaker on
 * Redis. Create one with {@link createCache}; `namespace()` gives views sharing its tiers.
 */
export class Cache {
  readonly #core: Core;
  readonly #ns: string;
  /** `prefix:namespace::` — namespace names exclude ':', so no two namespaces share a key. */
  readonly #keyPrefix: string;
  readonly #counters: Counters;
  readonly #memoryFirst: boolean;

  /** @internal Use {@link createCache}. */
  constructor(core: Core, ns: string) {
    this.#core = core;
    this.#ns = ns;
    this.#keyPrefix = `${core.prefix}:${ns}::`;
    this.#counters = core.counters_(ns);
    this.#memoryFirst =
      core.strategy === CacheStrategy.MEMORY_FIRST || core.strategy === CacheStrategy.MEMORY_ONLY;
  }

  /** The full namespace path ('' for the root, `a/b` for nested namespaces). */
  get name(): string {
    return this.#ns;
  }

  /** A view whose keys, patterns and tags live apart from every other namespace's. */
  namespace(name: string): Cache {
    if (!NAMESPACE_NAME.test(name)) throw new TypeError(`cache: bad namespace name ${JSON.stringify(name)}`);
    return new Cache(this.#core, this.#ns ? `${this.#ns}/${name}` : name);
  }

  /**
   * The synchronous fast path: the memory tier's fresh value, or undefined (a miss, or a key only
   * Redis holds — then use `get`). Values are shared, not copied: do not mutate them.
   */
  getSync<T>(key: string): T | undefined {
    const memory = this.#core.memory;
    if (!memory) return undefined;
    const now = Date.now();
    const entry = memory.get(this.#keyPrefix + key, now);
    if (entry !== undefined && entry.expiresAt > now) {
      this.#counters.memoryHits++;
      this.#counters.hits++;
      return entry.negative ? undefined : (entry.value as T);
    }
    // Only the tier's miss: the caller usually goes on to `get`, which counts the request.
    this.#counters.memoryMisses++;
    return undefined;
  }

  /** The fresh value of a key, or undefined. Never throws unless `throwOnError`. */
  get<T>(key: string): Promise<T | undefined> {
    const fast = this.#fastHit(this.#keyPrefix + key);
    if (fast !== undefined) return Promise.resolve(fast.negative ? undefined : (fast.value as T));
    return this.#get<T>(this.#keyPrefix + key);
  }

  async has(key: string): Promise<boolean> {
    const found = await this.#lookup(this.#keyPrefix + key, undefined);
    return found !== undefined && !found.stale && !found.entry.negative;
  }

  /** Stores a value in every tier of the strategy and evicts the key from other processes' memory. */
  async set(key: string, value: unknown, ttlMs?: number, options: SetOptions = {}): Promise<void> {
    if (value === undefined) throw new TypeError('cache: undefined cannot be cached; use delete()');
    const since = options.since;
    if (since && options.tags && options.tags.join('\n') !== since.tags.join('\n')) {
      throw new TypeError('cache: set() with `since` takes the tags of its snapshot');
    }
    const tags = options.tags ?? since?.tags;
    await this.#store(
      this.#keyPrefix + key,
      value,
      ttlMs ?? this.#core.ttlMs,
      { ...options, tags: tags ? [...tags] : undefined },
      false,
      options.since,
    );
  }

  /**
   * Takes the invalidation state of tags before reading the source, for a later
   * `set(key, value, ttl, {since})` that must not store data older than an invalidation.
   */
  async snapshot(tags: string[]): Promise<CacheSnapshot> {
    const core = this.#core;
    const seq = core.seq;
    let versions: string[] | null = null;
    if (tags.length && core.redis) {
      const read = await core.redis.versions(tags.map((t) => this.#tagVersionKey(t)));
      if (read !== FAILED) versions = read;
    }
    return { tags: [...tags], seq, versions };
  }

  async delete(key: string): Promise<void> {
    const core = this.#core;
    const fullKey = this.#keyPrefix + key;
    this.#counters.deletes++;
    core.memory?.delete(fullKey);
    core.bump([fullKey]);
    if (core.redis) await core.redis.delete([fullKey]);
    await core.publish({ s: core.id, type: 'keys', keys: [fullKey] });
  }

  /**
   * Get-or-compute. Concurrent calls for a key run `fn` once in this process (and, with `lock`,
   * once across processes). `fn` returning undefined means "not found" and is remembered for
   * `negativeTtlMs`. Past its TTL but within its grace, the stale value is served while one refresh
   * runs. Errors of `fn` reach the caller, unless a stale value can be served instead.
   */
  cached<T>(
    key: string,
    ttlMs: number | undefined,
    fn: () => Promise<T> | T,
    options?: CachedOptions,
  ): Promise<T> {
    const fullKey = this.#keyPrefix + key;
    const fast = this.#fastHit(fullKey);
    if (fast !== undefined) return Promise.resolve((fast.negative ? undefined : fast.value) as T);
    const core = this.#core;
    let flight = core.inflight.get(fullKey) as Promise<T> | undefined;
    if (!flight) {
      flight = this.#load(fullKey, ttlMs ?? core.ttlMs, fn, options ?? {});
      core.inflight.set(fullKey, flight);
      const clear = () => {
        if (core.inflight.get(fullKey) === flight) core.inflight.delete(fullKey);
      };
      flight.then(clear, clear);
    } else {
      // Joined an ongoing load: this caller is served without a computation of its own.
      this.#counters.hits++;
    }
    return flight;
  }

  /** Deletes the keys of this namespace matching a Redis glob (`test:*`), in every tier and process. */
  async invalidatePattern(pattern: string): Promise<number> {
    const core = this.#core;
    const full = escapeGlob(this.#keyPrefix) + pattern;
    const fromMemory = core.memory?.deleteMatching(full) ?? 0;
    core.bumpPattern();
    let deleted = fromMemory;
    if (core.redis) {
      const n = await core.redis.deleteMatching(full);
      if (n !== FAILED) deleted = n;
    }
    this.#counters.deletes += deleted;
    await core.publish({ s: core.id, type: 'pattern', pattern: full });
    return deleted;
  }

  /** Deletes every entry of this namespace that carries one of the tags, in every tier and process. */
  async invalidateTags(tags: string[]): Promise<void> {
    if (tags.length === 0) return;
    const core = this.#core;
    const names = tags.map((t) => this.#tagName(t));
    for (const name of names) this.#counters.deletes += core.memory?.deleteByTag(name) ?? 0;
    core.bump(names);
    const removing = core.redis?.invalidateTags(
      tags.map((t) => this.#tagSetKey(t)),
      tags.map((t) => this.#tagVersionKey(t)),
    );
    // Sent right behind the script, not after its answer: on the one connection the Redis tier and
    // the bus share (as every deployment wires them), Redis runs the script first, so no process
    // hears of the invalidation before Redis has done it — and the two share a round trip.
    const announcing = core.publish({ s: core.id, type: 'tags', tags: names });
    const n = await removing;
    if (n !== undefined && n !== FAILED) this.#counters.deletes += n;
    await announcing;
  }

  /** Deletes every entry of this namespace. */
  clear(): Promise<number> {
    return this.invalidatePattern('*');
  }

  /** Counters of the whole cache (root) with a breakdown per namespace. */
  stats(): CacheStats {
    const core = this.#core;
    const total = new Counters();
    const namespaces: Record<string, NamespaceStats> = {};
    for (const [ns, c] of core.counters) {
      namespaces[ns] = view(c);
      for (const k of Object.keys(total) as (keyof Counters)[]) total[k] += c[k];
    }
    return {
      ...view(total),
      evictions: core.memory?.evictions ?? 0,
      errors: core.errors,
      memoryEntries: core.memory?.size ?? 0,
      breaker: core.breaker.state,
      bus: { published: core.published, received: core.received },
      namespaces,
    };
  }

  /**
   * Stops listening to the bus, waits for background refreshes and drops the memory tier. The Redis
   * client and the bus belong to the caller, who closes them afterwards. Closes the root's resources
   * whichever namespace it is called on.
   */
  async close(): Promise<void> {
    const core = this.#core;
    if (core.bus && core.busHandler) {
      const handler = core.busHandler;
      core.busHandler = undefined;
      await core.bus.unsubscribe(core.topic, handler).catch((err: unknown) => {
        core.onError(new CacheError(CacheErrorCode.BUS, 'cache bus unsubscribe failed', { cause: err }));
      });
    }
    await Promise.allSettled([...core.refreshing.values(), ...core.inflight.values()]);
    core.memory?.clear();
  }

  /** A fresh memory entry when the strategy reads memory first; counts the memory hit. */
  #fastHit(fullKey: string): MemoryEntry | undefined {
    if (!this.#memoryFirst) return undefined;
    const now = Date.now();
    const entry = this.#core.memory!.get(fullKey, now);
    if (entry !== undefined && entry.expiresAt > now) {
      this.#counters.memoryHits++;
      this.#counters.hits++;
      return entry;
    }
    return undefined;
  }

  async #get<T>(fullKey: string): Promise<T | undefined> {
    const found = await this.#lookup(fullKey, undefined);
    if (found && !found.stale) {
      this.#counters.hits++;
      return found.entry.negative ? undefined : (found.entry.value as T);
    }
    this.#counters.misses++;
    return undefined;
  }

  /**
   * Reads the tiers in the strategy's order, counting per tier; fills memory from a Redis hit with
   * the entry's remaining TTL. `fast` is the caller's memory-first result (already counted).
   */
  async #lookup(fullKey: string, fast: MemoryEntry | undefined): Promise<Found | undefined> {
    if (fast) return { entry: fast, stale: false };
    const core = this.#core;
    const c = this.#counters;
    const memory = core.memory;
    const now = Date.now();
    let memoryEntry: MemoryEntry | undefined;
    if (memory && core.strategy !== CacheStrategy.REDIS_FIRST) {
      memoryEntry = memory.get(fullKey, now);
      if (memoryEntry && memoryEntry.expiresAt > now) {
        c.memoryHits++;
        return { entry: memoryEntry, stale: false };
      }
      c.memoryMisses++;
    }
    if (!core.redis) return memoryEntry ? { entry: memoryEntry, stale: true } : undefined;

    const read = await core.redis.read(fullKey);
    if (read === FAILED) {
      // Redis unreachable: whatever memory holds is the best answer (REDIS_FIRST's fallback).
      if (core.strategy === CacheStrategy.REDIS_FIRST) memoryEntry = memory?.get(fullKey, Date.now());
      if (!memoryEntry) return undefined;
      return { entry: memoryEntry, stale: memoryEntry.expiresAt <= Date.now() };
    }
    if (read === null) {
      c.redisMisses++;
      return undefined;
    }
    let stored: Stored;
    try {
      stored = core.serializer.decode(read) as Stored;
    } catch (err) {
      core.onError(
        new CacheError(CacheErrorCode.SERIALIZATION, `unreadable entry ${fullKey}`, { cause: err }),
      );
      c.redisMisses++;
      return undefined;
    }
    const at = Date.now();
    // Past its grace by this clock (another host's clock runs ahead): as good as gone.
    if (!(stored.x + stored.g > at)) {
      c.redisMisses++;
      return undefined;
    }
    c.redisHits++;
    const entry: MemoryEntry = {
      value: stored.v,
      expiresAt: stored.x,
      staleUntil: stored.x + stored.g,
      tags: stored.t?.map((t) => this.#tagName(t)),
      negative: stored.n === 1,
    };
    if (memory) memory.set(fullKey, entry);
    return { entry, stale: entry.expiresAt <= at };
  }

  async #load<T>(
    fullKey: string,
    ttlMs: number,
    fn: () => Promise<T> | T,
    options: CachedOptions,
  ): Promise<T> {
    const core = this.#core;
    const found = await this.#lookup(fullKey, undefined);
    if (found && !found.stale) {
      this.#counters.hits++;
      return (found.entry.negative ? undefined : found.entry.value) as T;
    }
    if (!found) {
      this.#counters.misses++;
      return this.#compute(fullKey, ttlMs, fn, options);
    }
    // Stale within grace: one refresh in the background; callers get the stale value, at once or
    // after the soft timeout if the refresh is slower than that.
    this.#counters.hits++;
    const staleValue = (found.entry.negative ? undefined : found.entry.value) as T;
    let refresh = core.refreshing.get(fullKey) as Promise<T> | undefined;
    if (!refresh) {
      refresh = this.#compute(fullKey, ttlMs, fn, options);
      core.refreshing.set(fullKey, refresh);
      const clear = () => {
        if (core.refreshing.get(fullKey) === refresh) core.refreshing.delete(fullKey);
      };
      // A failed refresh leaves the stale value in place until its grace ends; the next call retries.
      refresh.then(clear, clear);
    }
    const softTimeoutMs = options.softTimeoutMs ?? core.softTimeoutMs;
    if (softTimeoutMs <= 0) return staleValue;
    return new Promise<T>((resolve) => {
      const timer = setTimeout(() => resolve(staleValue), softTimeoutMs);
      refresh.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        () => {
          clearTimeout(timer);
          resolve(staleValue);
        },
      );
    });
  }

  async #compute<T>(
    fullKey: string,
    ttlMs: number,
    fn: () => Promise<T> | T,
    options: CachedOptions,
  ): Promise<T> {
    const core = this.#core;
    const tags = options.tags ?? [];
    const snapshot = await this.snapshot(tags);
    const useLock = (options.lock ?? core.lock !== undefined) && core.redis !== undefined;
    const lockKey = `${core.prefix}#lock:${fullKey.slice(core.prefix.length + 1)}`;
    let token: string | undefined;
    if (useLock) {
      const lock = core.lock ?? { ttlMs: 5_000, waitMs: 5_000 };
      const got = await core.redis!.lock(lockKey, lock.ttlMs);
      if (got === null) {
        // Another process computes: wait for its value rather than computing it twice.
        const deadline = Date.now() + lock.waitMs;
        while (Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
          const found = await this.#lookup(fullKey, undefined);
          if (found && !found.stale) return (found.entry.negative ? undefined : found.entry.value) as T;
          if (core.breaker.state === 'open') break;
        }
      } else if (got !== FAILED) token = got;
    }
    try {
      const value = await fn();
      if (value === undefined) {
        const negativeTtlMs = options.negativeTtlMs ?? core.negativeTtlMs;
        if (negativeTtlMs > 0)
          await this.#store(fullKey, null, negativeTtlMs, { tags, graceMs: 0 }, true, snapshot);
      } else {
        await this.#store(fullKey, value, ttlMs, options, false, snapshot);
      }
      return value;
    } finally {
      if (token) await core.redis!.unlock(lockKey, token);
    }
  }

  /**
   * Writes an entry. With a snapshot (values computed by `cached()`), Redis stores it only if none of
   * its tags was invalidated since the computation started, and memory only if no invalidation of its
   * tags or key reached this process meanwhile.
   */
  async #store(
    fullKey: string,
    value: unknown,
    ttlMs: number,
    options: SetOptions,
    negative: boolean,
    snapshot?: CacheSnapshot,
  ): Promise<void> {
    const core = this.#core;
    const tags = options.tags ?? [];
    const graceMs = negative ? 0 : (options.graceMs ?? core.graceMs);
    const ttl = core.jittered(ttlMs);
    const tagNames = tags.map((t) => this.#tagName(t));
    const entry = (): MemoryEntry => {
      const now = Date.now();
      return {
        value: negative ? undefined : value,
        expiresAt: now + ttl,
        staleUntil: now + ttl + graceMs,
        tags: tagNames.length ? tagNames : undefined,
        negative,
      };
    };
    this.#counters.sets++;
    if (!snapshot) {
      core.memory?.set(fullKey, entry());
      core.bump([fullKey]);
    }
    // Tag versions unknown (Redis was unreachable at the snapshot): storing in Redis could resurrect
    // invalidated data, so only this process's memory (guarded by the local clock) takes the value.
    const versionsUnknown = snapshot !== undefined && tags.length > 0 && snapshot.versions === null;
    if (core.redis && !versionsUnknown) {
      let payload: string | Buffer;
      try {
        const expiresAt = Date.now() + ttl;
        const stored: Stored = negative
          ? { x: expiresAt, g: 0, n: 1 }
          : { v: value, x: expiresAt, g: graceMs };
        if (tags.length) stored.t = tags;
        payload = core.serializer.encode(stored);
      } catch (err) {
        const error = new CacheError(CacheErrorCode.SERIALIZATION, `cannot serialise ${fullKey}`, {
          cause: err,
        });
        core.onError(error);
        if (core.throwOnError) throw error;
        return;
      }
      const written = await core.redis.write(
        fullKey,
        payload,
        ttl + graceMs,
        tags.length
          ? {
              sets: tags.map((t) => this.#tagSetKey(t)),
              versions: tags.map((t) => this.#tagVersionKey(t)),
              expected: snapshot ? snapshot.versions : null,
            }
          : undefined,
      );
      if (written === false) return;
    }
    if (snapshot) {
      if (core.invalidatedSince([...tagNames, fullKey], snapshot.seq)) return;
      core.memory?.set(fullKey, entry());
    }
    await core.publish({ s: core.id, type: 'keys', keys: [fullKey] });
  }

  #tagName(tag: string): string {
    return `${this.#ns}::${tag}`;
  }

  #tagSetKey(tag: string): string {
    return `${this.#core.prefix}#tags:${this.#ns}::${tag}`;
  }

  #tagVersionKey(tag: string): string {
    return `${this.#core.prefix}#tagv:${this.#ns}::${tag}`;
  }
}

function ratio(hits: number, misses: number): number {
  return hits + misses === 0 ? 0 : hits / (hits + misses);
}

function view(c: Counters): NamespaceStats {
  return {
    hits: c.hits,
    misses: c.misses,
    hitRatio: ratio(c.hits, c.misses),
    memory: { hits: c.memoryHits, misses: c.memoryMisses, hitRatio: ratio(c.memoryHits, c.memoryMisses) },
    redis: { hits: c.redisHits, misses: c.redisMisses, hitRatio: ratio(c.redisHits, c.redisMisses) },
    sets: c.sets,
    deletes: c.deletes,
  };
}

/** Creates a cache and, when it has a memory tier and a bus, subscribes it to the bus before returning. */
export async function createCache(options: CacheOptions = {}): Promise<Cache> {
  const core = new Core(options);
  if (core.bus && core.memory) {
    const handler: PubSubHandler = (payload) => core.receive(payload);
    await core.bus.subscribe(core.topic, handler);
    core.busHandler = handler;
  }
  return new Cache(core, '');
}
