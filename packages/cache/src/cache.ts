import { Core } from './core.js';
import { CacheError, CacheErrorCode } from './errors.js';
import { escapeGlob } from './glob.js';
import { CacheStrategy } from './options.js';
import type {
  CacheOptions,
  CacheSnapshot,
  CacheStats,
  CachedOptions,
  NamespaceStats,
  SetOptions,
} from './options.js';
import { Counters, statsView } from './stats.js';
import { TagKeys } from './tags.js';
import type { MemoryEntry } from './tiers/memory-tier.js';
import { FAILED } from './tiers/redis-tier.js';
import type { Stored } from './tiers/redis-tier.js';

const NAMESPACE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

const LOCK_POLL_MS = 25;

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
  readonly #tags: TagKeys;
  readonly #memoryFirst: boolean;

  /** @internal Use {@link createCache}. */
  constructor(core: Core, ns: string) {
    this.#core = core;
    this.#ns = ns;
    this.#keyPrefix = `${core.prefix}:${ns}::`;
    this.#counters = core.countersOf(ns);
    this.#tags = new TagKeys(core.prefix, ns);
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
    const seq = core.clock.seq;
    let versions: string[] | null = null;
    if (tags.length && core.redis) {
      const read = await core.redis.versions(tags.map((t) => this.#tags.version(t)));
      if (read !== FAILED) versions = read;
    }
    return { tags: [...tags], seq, versions };
  }

  async delete(key: string): Promise<void> {
    const core = this.#core;
    const fullKey = this.#keyPrefix + key;
    this.#counters.deletes++;
    core.memory?.delete(fullKey);
    core.clock.bump([fullKey]);
    if (core.redis) await core.redis.delete([fullKey]);
    await core.bus?.publish({ type: 'keys', keys: [fullKey] });
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
    core.clock.bumpPattern();
    let deleted = fromMemory;
    if (core.redis) {
      const n = await core.redis.deleteMatching(full);
      if (n !== FAILED) deleted = n;
    }
    this.#counters.deletes += deleted;
    await core.bus?.publish({ type: 'pattern', pattern: full });
    return deleted;
  }

  /** Deletes every entry of this namespace that carries one of the tags, in every tier and process. */
  async invalidateTags(tags: string[]): Promise<void> {
    if (tags.length === 0) return;
    const core = this.#core;
    const names = tags.map((t) => this.#tags.name(t));
    for (const name of names) this.#counters.deletes += core.memory?.deleteByTag(name) ?? 0;
    core.clock.bump(names);
    const removing = core.redis?.invalidateTags(
      tags.map((t) => this.#tags.set(t)),
      tags.map((t) => this.#tags.version(t)),
    );
    // Sent right behind the script, not after its answer: on the one connection the Redis tier and
    // the bus share (as every deployment wires them), Redis runs the script first, so no process
    // hears of the invalidation before Redis has done it — and the two share a round trip.
    const announcing = core.bus?.publish({ type: 'tags', tags: names });
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
      namespaces[ns] = statsView(c);
      for (const k of Object.keys(total) as (keyof Counters)[]) total[k] += c[k];
    }
    return {
      ...statsView(total),
      evictions: core.memory?.evictions ?? 0,
      errors: core.errors,
      memoryEntries: core.memory?.size ?? 0,
      breaker: core.breaker.state,
      bus: { published: core.bus?.published ?? 0, received: core.bus?.received ?? 0 },
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
    await core.bus?.close();
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
      tags: stored.t?.map((t) => this.#tags.name(t)),
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
    const tagNames = tags.map((t) => this.#tags.name(t));
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
      core.clock.bump([fullKey]);
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
              sets: tags.map((t) => this.#tags.set(t)),
              versions: tags.map((t) => this.#tags.version(t)),
              expected: snapshot ? snapshot.versions : null,
            }
          : undefined,
      );
      if (written === false) return;
    }
    if (snapshot) {
      if (core.clock.invalidatedSince([...tagNames, fullKey], snapshot.seq)) return;
      core.memory?.set(fullKey, entry());
    }
    await core.bus?.publish({ type: 'keys', keys: [fullKey] });
  }
}

/** Creates a cache and, when it has a memory tier and a bus, subscribes it to the bus before returning. */
export async function createCache(options: CacheOptions = {}): Promise<Cache> {
  const core = new Core(options);
  if (core.bus && core.memory) await core.bus.listen((invalidation) => core.invalidateMemory(invalidation));
  return new Cache(core, '');
}
