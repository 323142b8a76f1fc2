import type { Redis } from 'ioredis';
import type { ConnectionRegistry } from '@crucible/contracts';

// Leases: a sorted set per user, member = connection id, score = when its lease runs out (Redis
// time, so gateways' clocks do not matter). Expired members belong to gateways that stopped renewing.
// An index (a sorted set, member = user id, score = the latest lease of that user, or later) lists
// every user with a place, so a sweep finds the users whose every lease ran out without reading
// them all: the last of these scripts to see a user's set empty removes the user from the index,
// and only that caller reports the user offline (release, or sweep), so each is reported once.
const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// KEYS: user set, index. ARGV: connection id, max, lease ms, user id.
const ACQUIRE = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = redis.call('ZCARD', KEYS[1])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return n end
if n >= tonumber(ARGV[2]) then return -1 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], 'GT', now + tonumber(ARGV[3]), ARGV[4])
return n + 1`;

// KEYS: user set, index. ARGV: connection id, user id. The count left; 0 takes the user off the index.
const RELEASE = `${NOW}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = redis.call('ZCARD', KEYS[1])
if n == 0 then redis.call('ZREM', KEYS[2], ARGV[2]) end
return n`;

// KEYS: user set, index. ARGV: lease ms, user id, connection ids…
const RENEW = `${NOW}
local lease = tonumber(ARGV[1])
for i = 3, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + lease, ARGV[i]) end
if redis.call('ZCARD', KEYS[1]) > 0 then
  redis.call('PEXPIRE', KEYS[1], lease)
  redis.call('ZADD', KEYS[2], 'GT', now + lease, ARGV[2])
end
return 0`;

// KEYS: user set, index. ARGV: user id. 1 when this call found the user's last lease gone (report
// the user offline), 0 when some remain (the index moves to the latest), -1 when another did it.
const SWEEP = `${NOW}
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return -1 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #last == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1
end
redis.call('ZADD', KEYS[2], last[2], ARGV[1])
return 0`;

/** Users past their latest lease, at most this many per sweep (the next sweep takes the rest). */
const SWEEP_BATCH = 500;

type LeaseRedis = Redis & {
  crucibleConnAcquire(
    key: string,
    index: string,
    id: string,
    max: number,
    leaseMs: number,
    userId: string,
  ): Promise<number>;
  crucibleConnRelease(key: string, index: string, id: string, userId: string): Promise<number>;
  crucibleConnSweep(key: string, index: string, userId: string): Promise<number>;
};

type LeasePipeline = ReturnType<Redis['pipeline']> & {
  crucibleConnRenew(key: string, index: string, leaseMs: number, userId: string, ...ids: string[]): unknown;
  crucibleConnSweep(key: string, index: string, userId: string): unknown;
};

export interface RedisConnectionRegistryOptions {
  /** Key prefix of the deployment (`CRUCIBLE_PREFIX`). */
  prefix: string;
  /** How long a socket's place outlives its gateway's last renewal. @defaultValue 30000 */
  leaseMs?: number;
}

/**
 * Per-user counts in Redis; each gateway renews the leases of its own sockets every third of a
 * lease, and (once something listens with `onExpired`) sweeps the users whose leases all ran out.
 */
export class RedisConnectionRegistry implements ConnectionRegistry {
  readonly #redis: LeaseRedis;
  readonly #prefix: string;
  readonly #index: string;
  readonly #leaseMs: number;
  readonly #local = new Map<string, Set<string>>();
  readonly #listeners: ((userId: string) => void)[] = [];
  readonly #timer: NodeJS.Timeout;
  #tick: Promise<void> = Promise.resolve();

  constructor(redis: Redis, options: RedisConnectionRegistryOptions) {
    if (!('crucibleConnSweep' in redis)) {
      redis.defineCommand('crucibleConnAcquire', { numberOfKeys: 2, lua: ACQUIRE });
      redis.defineCommand('crucibleConnRelease', { numberOfKeys: 2, lua: RELEASE });
      redis.defineCommand('crucibleConnRenew', { numberOfKeys: 2, lua: RENEW });
      redis.defineCommand('crucibleConnSweep', { numberOfKeys: 2, lua: SWEEP });
    }
    this.#redis = redis as LeaseRedis;
    this.#prefix = `${options.prefix}:conns:`;
    this.#index = `${options.prefix}:conns-index`;
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#timer = setInterval(
      () => {
        // One tick at a time: a slow Redis must not pile sweeps up.
        this.#tick = this.#tick.then(async () => {
          await this.#renew();
          await this.#sweep();
        });
      },
      Math.max(100, Math.floor(this.#leaseMs / 3)),
    );
    this.#timer.unref();
  }

  async acquire(userId: string, connectionId: string, max: number): Promise<number | null> {
    const n = await this.#redis.crucibleConnAcquire(
      this.#key(userId),
      this.#index,
      connectionId,
      max,
      this.#leaseMs,
      userId,
    );
    if (n < 0) return null;
    let set = this.#local.get(userId);
    if (!set) this.#local.set(userId, (set = new Set()));
    set.add(connectionId);
    return n;
  }

  async release(userId: string, connectionId: string): Promise<number> {
    const set = this.#local.get(userId);
    set?.delete(connectionId);
    if (set?.size === 0) this.#local.delete(userId);
    return this.#redis.crucibleConnRelease(this.#key(userId), this.#index, connectionId, userId);
  }

  onExpired(listener: (userId: string) => void): void {
    this.#listeners.push(listener);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#tick;
  }

  #key(userId: string): string {
    return this.#prefix + userId;
  }

  async #renew(): Promise<void> {
    if (this.#local.size === 0) return;
    const pipeline = this.#redis.pipeline() as LeasePipeline;
    for (const [userId, ids] of this.#local)
      pipeline.crucibleConnRenew(this.#key(userId), this.#index, this.#leaseMs, userId, ...ids);
    // A failed renewal is retried on the next tick, well within the lease.
    await pipeline.exec().catch(() => undefined);
  }

  /** Finds users whose every lease ran out (their gateways died) and tells the listeners. */
  async #sweep(): Promise<void> {
    // A process that reports to nobody must not take users off the index (nobody would hear of them).
    if (this.#listeners.length === 0) return;
    try {
      const [seconds, micros] = await this.#redis.time();
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      const due = await this.#redis.zrangebyscore(this.#index, '-inf', now, 'LIMIT', 0, SWEEP_BATCH);
      if (due.length === 0) return;
      const pipeline = this.#redis.pipeline() as LeasePipeline;
      for (const userId of due) pipeline.crucibleConnSweep(this.#key(userId), this.#index, userId);
      const results = (await pipeline.exec()) ?? [];
      results.forEach(([err, gone], i) => {
        if (err || gone !== 1) return;
        for (const listener of this.#listeners) listener(due[i]!);
      });
    } catch {
      // Retried on the next tick: the users stay on the index until a sweep gets through.
    }
  }
}
