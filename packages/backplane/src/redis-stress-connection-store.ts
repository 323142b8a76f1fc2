import type { Redis } from 'ioredis';
import type { StressConnectionStore, StressReservation } from '@crucible/contracts';

// Per owner: a hash (test id → connections) and a sorted set of leases (test id → when it runs
// out, Redis time, so workers' clocks do not matter). Expired leases belong to workers that
// stopped renewing; each reservation drops them first.
const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// KEYS: holds, leases, waiting note. ARGV: test id, connections, max, lease ms.
// Returns {granted (1/0), connections the owner's other tests hold}.
const RESERVE = `${NOW}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do redis.call('HDEL', KEYS[1], id) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local used = 0
local holds = redis.call('HGETALL', KEYS[1])
for i = 1, #holds, 2 do
  if holds[i] ~= ARGV[1] then used = used + tonumber(holds[i + 1]) end
end
if used + tonumber(ARGV[2]) > tonumber(ARGV[3]) then return {0, used} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('DEL', KEYS[3])
return {1, used}`;

// KEYS: holds, leases. ARGV: lease ms, test ids… (only tests still held are renewed).
const RENEW = `${NOW}
local lease = tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[2], 'XX', now + lease, ARGV[i]) end
if redis.call('ZCARD', KEYS[2]) > 0 then
  redis.call('PEXPIRE', KEYS[1], lease)
  redis.call('PEXPIRE', KEYS[2], lease)
end
return 0`;

type StressRedis = Redis & {
  crucibleStressReserve(
    holds: string,
    leases: string,
    waiting: string,
    testId: string,
    connections: number,
    max: number,
    leaseMs: number,
  ): Promise<[number, number]>;
};

type StressPipeline = ReturnType<Redis['pipeline']> & {
  crucibleStressRenew(holds: string, leases: string, leaseMs: number, ...testIds: string[]): unknown;
};

export interface RedisStressConnectionStoreOptions {
  /** Key prefix of the deployment (`CRUCIBLE_PREFIX`). */
  prefix: string;
  /** What the holds are of, naming their keys (`{prefix}:{namespace}:*`). @defaultValue 'stress' */
  namespace?: string;
  /** How long a hold outlives its worker's last renewal. @defaultValue 30000 (BullMQ's lock duration) */
  leaseMs?: number;
}

/** Holds in Redis, shared by every worker; each worker renews its own every third of a lease. */
export class RedisStressConnectionStore implements StressConnectionStore {
  readonly #redis: StressRedis;
  readonly #prefix: string;
  readonly #leaseMs: number;
  /** This process's holds: owner → test ids, renewed until released. */
  readonly #local = new Map<string, Set<string>>();
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> = Promise.resolve();

  constructor(redis: Redis, options: RedisStressConnectionStoreOptions) {
    if (!('crucibleStressReserve' in redis)) {
      redis.defineCommand('crucibleStressReserve', { numberOfKeys: 3, lua: RESERVE });
      redis.defineCommand('crucibleStressRenew', { numberOfKeys: 2, lua: RENEW });
    }
    this.#redis = redis as StressRedis;
    this.#prefix = `${options.prefix}:${options.namespace ?? 'stress'}`;
    this.#leaseMs = options.leaseMs ?? 30_000;
  }

  async reserve(owner: string, testId: string, connections: number, max: number): Promise<StressReservation> {
    const [granted, inUse] = await this.#redis.crucibleStressReserve(
      this.#holds(owner),
      this.#leases(owner),
      this.#note(testId),
      testId,
      connections,
      max,
      this.#leaseMs,
    );
    if (granted !== 1) return { granted: false, inUse };
    let ids = this.#local.get(owner);
    if (!ids) this.#local.set(owner, (ids = new Set()));
    ids.add(testId);
    // Only while this process holds something: api and gateway processes never start it.
    this.#timer ??= setInterval(
      () => {
        this.#tick = this.#tick.then(() => this.#renew());
      },
      Math.max(100, Math.floor(this.#leaseMs / 3)),
    ).unref();
    return { granted: true, inUse };
  }

  async release(owner: string, testId: string): Promise<void> {
    const ids = this.#local.get(owner);
    ids?.delete(testId);
    if (ids?.size === 0) this.#local.delete(owner);
    if (this.#local.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
    await this.#redis.multi().hdel(this.#holds(owner), testId).zrem(this.#leases(owner), testId).exec();
  }

  async setWaiting(testId: string, reason: string, ttlMs: number): Promise<boolean> {
    const previous = await this.#redis.set(this.#note(testId), reason, 'PX', ttlMs, 'GET');
    return previous === null;
  }

  async waiting(testIds: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (testIds.length === 0) return out;
    const notes = await this.#redis.mget(testIds.map((id) => this.#note(id)));
    notes.forEach((reason, i) => {
      if (reason !== null) out.set(testIds[i]!, reason);
    });
    return out;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#tick;
  }

  #holds(owner: string): string {
    return `${this.#prefix}:holds:${owner}`;
  }

  #leases(owner: string): string {
    return `${this.#prefix}:leases:${owner}`;
  }

  #note(testId: string): string {
    return `${this.#prefix}:waiting:${testId}`;
  }

  async #renew(): Promise<void> {
    if (this.#local.size === 0) return;
    const pipeline = this.#redis.pipeline() as StressPipeline;
    for (const [owner, ids] of this.#local)
      pipeline.crucibleStressRenew(this.#holds(owner), this.#leases(owner), this.#leaseMs, ...ids);
    // A failed renewal is retried on the next tick, well within the lease.
    await pipeline.exec().catch(() => undefined);
  }
}
