import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { CircuitBreaker } from '../circuit-breaker.js';
import { CacheError, CacheErrorCode } from '../errors.js';

/** Returned instead of a value when Redis could not be asked (error, timeout or open breaker). */
export const FAILED: unique symbol = Symbol('redis-tier-failed');
export type Failed = typeof FAILED;

/**
 * What Redis stores: the value, its logical expiry (ms since epoch; Redis keeps the key `g` ms
 * longer, the grace), its tags, whether it is a negative entry. Carrying the expiry makes a read
 * one GET, and a memory copy filled from it expires with the Redis entry, not after a default TTL.
 */
export interface Stored {
  v?: unknown;
  x: number;
  g: number;
  t?: string[];
  n?: 1;
}

/**
 * Stores an entry and adds it to its tag sets. With `check = '1'` it first compares each tag's
 * version with the one read before the value was computed and stores nothing if a tag was
 * invalidated meanwhile — so a value computed from data older than an invalidation never lands.
 * KEYS: entry, n tag sets, n tag versions. ARGV: payload, px, n, check, n expected versions.
 */
const SET_TAGGED = `
local n = tonumber(ARGV[3])
if ARGV[4] == '1' then
  for i = 1, n do
    local v = redis.call('GET', KEYS[1 + n + i]) or ''
    if v ~= ARGV[4 + i] then return 0 end
  end
end
local px = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', px)
for i = 1, n do
  redis.call('SADD', KEYS[1 + i], KEYS[1])
  if redis.call('PTTL', KEYS[1 + i]) < px then redis.call('PEXPIRE', KEYS[1 + i], px) end
end
return 1
`;

/** Releases a lock only if this process still holds it. */
const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * Invalidates tags in one round trip: bumps each tag's version (so a value computed before this
 * never lands, see SET_TAGGED) and deletes up to ARGV[2] entries of each tag set. Returns the
 * entries deleted, then 1 for each set that may hold more (the caller drains those in batches).
 * KEYS: n tag sets, n tag versions. ARGV: version ttl ms, batch.
 */
const INVALIDATE_TAGS = `
local n = #KEYS / 2
local deleted = 0
local more = {}
for i = 1, n do
  redis.call('INCR', KEYS[n + i])
  redis.call('PEXPIRE', KEYS[n + i], ARGV[1])
end
for i = 1, n do
  local keys = redis.call('SPOP', KEYS[i], ARGV[2])
  if #keys > 0 then deleted = deleted + redis.call('UNLINK', unpack(keys)) end
  more[i] = #keys == tonumber(ARGV[2]) and 1 or 0
end
return {deleted, unpack(more)}
`;

/** How long a tag's version outlives its last invalidation (longer than any computation runs). */
const TAG_VERSION_TTL_MS = 24 * 60 * 60 * 1000;
const BATCH = 500;

type RedisWithScripts = Redis & {
  crucibleCacheSetTagged(numKeys: number, ...args: (string | number | Buffer)[]): Promise<number>;
  crucibleCacheUnlock(key: string, token: string): Promise<number>;
  crucibleCacheInvalidateTags(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
};

/**
 * The Redis tier's commands, each behind a timeout and a circuit breaker: a failing Redis costs a
 * counted error and a miss, never a hang or a throw (unless the cache was asked to throw).
 */
export class RedisTier {
  readonly #redis: RedisWithScripts;
  readonly #breaker: CircuitBreaker;
  readonly #timeoutMs: number;
  readonly #onError: (err: CacheError) => void;
  readonly #binary: boolean;
  readonly #throwOnError: boolean;
  readonly #pending = new Set<PendingOp>();
  #watchdog: NodeJS.Timeout | undefined;

  constructor(options: {
    redis: Redis;
    breaker: CircuitBreaker;
    timeoutMs: number;
    binary: boolean;
    throwOnError: boolean;
    onError: (err: CacheError) => void;
  }) {
    if (!('crucibleCacheSetTagged' in options.redis)) {
      options.redis.defineCommand('crucibleCacheSetTagged', { lua: SET_TAGGED });
      options.redis.defineCommand('crucibleCacheUnlock', { numberOfKeys: 1, lua: UNLOCK });
    }
    if (!('crucibleCacheInvalidateTags' in options.redis)) {
      options.redis.defineCommand('crucibleCacheInvalidateTags', { lua: INVALIDATE_TAGS });
    }
    this.#redis = options.redis as RedisWithScripts;
    this.#breaker = options.breaker;
    this.#timeoutMs = options.timeoutMs;
    this.#binary = options.binary;
    this.#onError = options.onError;
    this.#throwOnError = options.throwOnError;
  }

  /** The stored bytes of a key, null when absent (one GET: the entry carries its own expiry). */
  read(key: string): Promise<string | Buffer | null | Failed> {
    return this.#run<string | Buffer | null>('read', () =>
      this.#binary ? this.#redis.getBuffer(key) : this.#redis.get(key),
    );
  }

  /** Current versions of tags ('' when never invalidated), read before a value is computed. */
  versions(versionKeys: string[]): Promise<string[] | Failed> {
    return this.#run('versions', async () => (await this.#redis.mget(...versionKeys)).map((v) => v ?? ''));
  }

  /** Stores an entry; false when a tag changed since `expected` was read (nothing stored). */
  write(
    key: string,
    payload: string | Buffer,
    px: number,
    tags?: { sets: string[]; versions: string[]; expected: string[] | null },
  ): Promise<boolean | Failed> {
    return this.#run('write', async () => {
      if (!tags || tags.sets.length === 0) {
        await this.#redis.set(key, payload, 'PX', px);
        return true;
      }
      const n = tags.sets.length;
      const stored = await this.#redis.crucibleCacheSetTagged(
        1 + 2 * n,
        key,
        ...tags.sets,
        ...tags.versions,
        payload,
        px,
        n,
        tags.expected ? '1' : '0',
        ...(tags.expected ?? []),
      );
      return stored === 1;
    });
  }

  delete(keys: string[]): Promise<number | Failed> {
    return this.#run('delete', () => this.#redis.unlink(...keys));
  }

  /** SCAN + UNLINK in batches (never KEYS, which blocks Redis); returns how many keys went. */
  deleteMatching(pattern: string): Promise<number | Failed> {
    return this.#run(
      'deleteMatching',
      async () => {
        let cursor = '0';
        let deleted = 0;
        do {
          const [next, keys] = await this.#redis.scan(cursor, 'MATCH', pattern, 'COUNT', BATCH);
          cursor = next;
          if (keys.length) deleted += await this.#redis.unlink(...keys);
        } while (cursor !== '0');
        return deleted;
      },
      0,
    );
  }

  /**
   * Bumps each tag's version (so values being computed from older data are not stored), then pops
   * the tag's set in batches and unlinks its members.
   */
  invalidateTags(sets: string[], versionKeys: string[]): Promise<number | Failed> {
    return this.#run(
      'invalidateTags',
      async () => {
        const [first, ...more] = await this.#redis.crucibleCacheInvalidateTags(
          sets.length + versionKeys.length,
          ...sets,
          ...versionKeys,
          TAG_VERSION_TTL_MS,
          BATCH,
        );
        let deleted = first ?? 0;
        // Rare: a set larger than a batch is drained a batch per round trip, never in one long script.
        for (const [i, set] of sets.entries()) {
          if (!more[i]) continue;
          for (;;) {
            const keys = await this.#redis.spop(set, BATCH);
            if (keys.length === 0) break;
            deleted += await this.#redis.unlink(...keys);
          }
        }
        return deleted;
      },
      0,
    );
  }

  /** A token when this process now holds the lock, null when another one does. */
  lock(key: string, ttlMs: number): Promise<string | null | Failed> {
    return this.#run('lock', async () => {
      const token = randomUUID();
      return (await this.#redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK' ? token : null;
    });
  }

  unlock(key: string, token: string): Promise<number | Failed> {
    return this.#run('unlock', () => this.#redis.crucibleCacheUnlock(key, token));
  }

  /**
   * Runs one operation under the breaker and a timeout. `timeoutMs` bounds each round trip;
   * multi-step operations (pattern and tag deletes) pass 0 and rely on the client's own errors.
   */
  async #run<T>(op: string, fn: () => Promise<T>, timeoutMs = this.#timeoutMs): Promise<T | Failed> {
    if (!this.#breaker.allow()) {
      // Skipped calls are not errors (the one that opened the breaker was): stats show the state.
      if (this.#throwOnError)
        throw new CacheError(CacheErrorCode.CIRCUIT_OPEN, `redis tier skipped (${op}): circuit open`);
      return FAILED;
    }
    try {
      const value = timeoutMs > 0 ? await this.#withDeadline(fn(), timeoutMs, op) : await fn();
      this.#breaker.success();
      return value;
    } catch (err) {
      this.#breaker.failure();
      const error = new CacheError(CacheErrorCode.REDIS, `redis tier ${op} failed`, { cause: err });
      this.#onError(error);
      if (this.#throwOnError) throw error;
      return FAILED;
    }
  }

  /**
   * Rejects an operation still pending after `ms`. One coarse interval checks every pending
   * operation (a timer per command would cost more than the command on a memory-speed path).
   */
  #withDeadline<T>(promise: Promise<T>, ms: number, op: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending: PendingOp = { deadline: performance.now() + ms, op, reject };
      this.#pending.add(pending);
      if (!this.#watchdog) {
        this.#watchdog = setInterval(() => this.#expire(), Math.max(10, Math.floor(ms / 4)));
        this.#watchdog.unref();
      }
      promise.then(
        (v) => {
          this.#pending.delete(pending);
          resolve(v);
        },
        (err: unknown) => {
          this.#pending.delete(pending);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  #expire(): void {
    const now = performance.now();
    for (const pending of this.#pending) {
      if (pending.deadline <= now) {
        this.#pending.delete(pending);
        pending.reject(new Error(`${pending.op} timed out`));
      }
    }
    if (this.#pending.size === 0 && this.#watchdog) {
      clearInterval(this.#watchdog);
      this.#watchdog = undefined;
    }
  }
}

interface PendingOp {
  deadline: number;
  op: string;
  reject: (err: Error) => void;
}
