import type { Redis } from 'ioredis';

/**
 * Counts each user's open sockets across every gateway, so the per-user limit holds however many
 * gateways run. A gateway that dies without releasing its sockets must not hold their places forever.
 */
export interface ConnectionRegistry {
  /** Registers the socket unless the user already has `max`; the user's count after it, or null when refused. */
  acquire(userId: string, connectionId: string, max: number): Promise<number | null>;
  /** Removes the socket; the user's count left. */
  release(userId: string, connectionId: string): Promise<number>;
  /** Stops background work; sockets still registered are left to expire. */
  close(): Promise<void>;
}

/** One process: embedded mode, or tests. */
export class MemoryConnectionRegistry implements ConnectionRegistry {
  readonly #users = new Map<string, Set<string>>();

  async acquire(userId: string, connectionId: string, max: number): Promise<number | null> {
    let set = this.#users.get(userId);
    if (!set) this.#users.set(userId, (set = new Set()));
    if (set.size >= max) return null;
    set.add(connectionId);
    return set.size;
  }

  async release(userId: string, connectionId: string): Promise<number> {
    const set = this.#users.get(userId);
    set?.delete(connectionId);
    if (set?.size === 0) this.#users.delete(userId);
    return set?.size ?? 0;
  }

  async close(): Promise<void> {}
}

// Leases: a sorted set per user, member = connection id, score = when its lease runs out (Redis
// time, so gateways' clocks do not matter). Expired members belong to gateways that stopped renewing.
const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

const ACQUIRE = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = redis.call('ZCARD', KEYS[1])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return n end
if n >= tonumber(ARGV[2]) then return -1 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return n + 1`;

const RELEASE = `${NOW}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])`;

const RENEW = `${NOW}
local lease = tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + lease, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], lease)
return 0`;

type LeaseRedis = Redis & {
  crucibleConnAcquire(key: string, id: string, max: number, leaseMs: number): Promise<number>;
  crucibleConnRelease(key: string, id: string): Promise<number>;
  crucibleConnRenew(key: string, leaseMs: number, ...ids: string[]): Promise<number>;
};

export interface RedisConnectionRegistryOptions {
  /** Key prefix of the deployment (`CRUCIBLE_PREFIX`). */
  prefix: string;
  /** How long a socket's place outlives its gateway's last renewal. @defaultValue 30000 */
  leaseMs?: number;
}

/** Per-user counts in Redis; each gateway renews the leases of its own sockets every third of a lease. */
export class RedisConnectionRegistry implements ConnectionRegistry {
  readonly #redis: LeaseRedis;
  readonly #prefix: string;
  readonly #leaseMs: number;
  readonly #local = new Map<string, Set<string>>();
  readonly #timer: NodeJS.Timeout;

  constructor(redis: Redis, options: RedisConnectionRegistryOptions) {
    if (!('crucibleConnAcquire' in redis)) {
      redis.defineCommand('crucibleConnAcquire', { numberOfKeys: 1, lua: ACQUIRE });
      redis.defineCommand('crucibleConnRelease', { numberOfKeys: 1, lua: RELEASE });
      redis.defineCommand('crucibleConnRenew', { numberOfKeys: 1, lua: RENEW });
    }
    this.#redis = redis as LeaseRedis;
    this.#prefix = `${options.prefix}:conns:`;
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#timer = setInterval(() => void this.#renew(), Math.max(100, Math.floor(this.#leaseMs / 3)));
    this.#timer.unref();
  }

  async acquire(userId: string, connectionId: string, max: number): Promise<number | null> {
    const n = await this.#redis.crucibleConnAcquire(this.#key(userId), connectionId, max, this.#leaseMs);
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
    return this.#redis.crucibleConnRelease(this.#key(userId), connectionId);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
  }

  #key(userId: string): string {
    return this.#prefix + userId;
  }

  async #renew(): Promise<void> {
    if (this.#local.size === 0) return;
    const pipeline = this.#redis.pipeline() as ReturnType<Redis['pipeline']> & {
      crucibleConnRenew(key: string, leaseMs: number, ...ids: string[]): unknown;
    };
    for (const [userId, ids] of this.#local)
      pipeline.crucibleConnRenew(this.#key(userId), this.#leaseMs, ...ids);
    // A failed renewal is retried on the next tick, well within the lease.
    await pipeline.exec().catch(() => undefined);
  }
}
