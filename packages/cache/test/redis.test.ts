import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import type { Redis } from 'ioredis';
import { unpack } from 'msgpackr';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RedisPubSub, createRedis } from '@crucible/backplane';
import { CacheError, CacheStrategy, createCache } from '../src/index.js';
import type { Cache, CacheOptions } from '../src/index.js';
import { REDIS_URL, connectedRedis, deletePrefix } from './backends.js';
import { deferred } from './conformance.js';

const POLL = { timeout: 10_000, interval: 20 };

/** A loopback port with nothing listening: a Redis that is down. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

describe('cache on Redis', () => {
  let prefix: string;
  let admin: Redis;
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeEach(async () => {
    prefix = `t-${randomUUID()}`;
    admin = await connectedRedis();
  });
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
    await deletePrefix(admin, prefix);
    admin.disconnect();
  });

  /** A cache with its own connections, as another process would have. */
  async function instance(options: CacheOptions = {}): Promise<{ cache: Cache; redis: Redis }> {
    const redis = await connectedRedis();
    const bus = new RedisPubSub({
      subscriber: createRedis(REDIS_URL, 'subscriber'),
      publisher: redis,
      prefix,
    });
    const cache = await createCache({ redis, bus, prefix: `${prefix}:cache`, ...options });
    cleanups.push(async () => {
      await cache.close();
      await bus.close();
      redis.disconnect();
    });
    return { cache, redis };
  }

  it("evicts another OS process's memory tier through the bus", async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('./fixtures/cache-process.ts', import.meta.url))],
      { env: { ...process.env, CACHE_TEST_PREFIX: prefix }, stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    cleanups.push(async () => {
      child.stdin.end();
      await exited;
    });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const next = async () => (JSON.parse((await lines.next()).value as string) as { value: unknown }).value;
    const ask = async (command: string) => {
      child.stdin.write(`${command}\n`);
      return next();
    };
    expect(await next()).toBe('ready');

    const { cache } = await instance();
    expect(await ask('set k "from the child"')).toBe('ok');
    expect(await ask('peek k')).toBe('from the child');
    await cache.set('k', 'from the parent');
    await expect.poll(() => ask('peek k'), POLL).toBeNull();
    expect(await ask('get k')).toBe('from the parent');
    expect(await ask('peek k')).toBe('from the parent');
    await cache.delete('k');
    await expect.poll(() => ask('peek k'), POLL).toBeNull();
    expect(await ask('get k')).toBeNull();
  });

  it('stores with the default TTL of 5 minutes, ± the configured jitter', async () => {
    const { cache } = await instance();
    await cache.set('plain', 1);
    const pttl = await admin.pttl(`${prefix}:cache:::plain`);
    expect(pttl).toBeGreaterThan(290_000);
    expect(pttl).toBeLessThanOrEqual(300_000);

    const { cache: jittered } = await instance({ jitter: 0.5 });
    const ttls: number[] = [];
    for (let i = 0; i < 20; i++) {
      await jittered.set(`j${i}`, i, 10_000);
      ttls.push(await admin.pttl(`${prefix}:cache:::j${i}`));
    }
    for (const t of ttls) {
      expect(t).toBeGreaterThan(4_000);
      expect(t).toBeLessThanOrEqual(15_000);
    }
    expect(new Set(ttls).size).toBeGreaterThan(1);
  });

  it('fills memory from a Redis hit with the remaining TTL, not the default', async () => {
    const { cache: writer } = await instance({ strategy: CacheStrategy.REDIS_ONLY });
    const { cache: reader } = await instance({ ttlMs: 3_600_000 });
    await writer.set('k', 'v', 1_000);
    expect(await reader.get('k')).toBe('v');
    expect(reader.getSync('k')).toBe('v');
    expect(reader.stats().redis.hits).toBe(1);
    // With the default (1 hour) the memory copy would outlive the Redis entry; it expires with it.
    await expect.poll(() => reader.getSync('k'), POLL).toBeUndefined();
    expect(await reader.get('k')).toBeUndefined();
  });

  it('stores msgpack when asked, and JSON by default', async () => {
    const { cache: packed } = await instance({ serializer: 'msgpack' });
    await packed.set('m', { a: [1, 2] }, 60_000, { tags: ['x'] });
    const raw = await admin.getBuffer(`${prefix}:cache:::m`);
    expect(unpack(raw!)).toEqual({ v: { a: [1, 2] }, x: expect.any(Number), g: 0, t: ['x'] });
    const { cache: json } = await instance();
    await json.set('j', { a: 1 });
    expect(JSON.parse((await admin.get(`${prefix}:cache:::j`))!)).toEqual({
      v: { a: 1 },
      x: expect.any(Number),
      g: 0,
    });
  });

  it('deletes thousands of matching keys in SCAN batches and keeps tag sets alive as long as their entries', async () => {
    const { cache } = await instance();
    const pipeline = admin.pipeline();
    for (let i = 0; i < 1_200; i++)
      pipeline.set(`${prefix}:cache:::bulk:${i}`, '{"v":1,"g":0}', 'PX', 60_000);
    await pipeline.exec();
    await cache.set('keep', 'yes');
    expect(await cache.invalidatePattern('bulk:*')).toBe(1_200);
    expect(await cache.get('keep')).toBe('yes');

    await cache.set('tagged', 1, 120_000, { tags: ['t'] });
    const setTtl = await admin.pttl(`${prefix}:cache#tags:::t`);
    expect(setTtl).toBeGreaterThan(100_000);
    expect(await admin.smembers(`${prefix}:cache#tags:::t`)).toEqual([`${prefix}:cache:::tagged`]);
  });

  it('invalidates a tag of more entries than one batch, and of several tags at once', async () => {
    const { cache } = await instance({ strategy: CacheStrategy.REDIS_ONLY });
    for (let i = 0; i < 1_200; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, j) => cache.set(`many:${i + j}`, i + j, 60_000, { tags: ['big'] })),
      );
    }
    await cache.set('small', 1, 60_000, { tags: ['small'] });
    await cache.set('keep', 2, 60_000, { tags: ['other'] });
    await cache.invalidateTags(['big', 'small']);
    expect(await admin.exists(`${prefix}:cache#tags:::big`)).toBe(0);
    for (const key of ['many:0', 'many:599', 'many:1199', 'small'])
      expect(await cache.get(key), key).toBeUndefined();
    expect(await cache.get('keep')).toBe(2);
    expect(cache.stats().deletes).toBe(1_201);
  });

  it('runs fn once across processes with the lock; the other waits for its value', async () => {
    const { cache: a } = await instance({ lock: true });
    const { cache: b } = await instance({ lock: true });
    let calls = 0;
    const gate = deferred<void>();
    const fn = async () => {
      calls++;
      await gate.promise;
      return 'shared';
    };
    const first = a.cached('locked', 60_000, fn);
    await expect.poll(() => calls, POLL).toBe(1);
    const second = b.cached('locked', 60_000, fn);
    gate.resolve();
    expect(await Promise.all([first, second])).toEqual(['shared', 'shared']);
    expect(calls).toBe(1);
    expect(await admin.exists(`${prefix}:cache#lock:::locked`)).toBe(0);
  });

  it('keeps serving from memory and fn when Redis is down, counting errors and never throwing', async () => {
    const port = await closedPort();
    const down = createRedis(`redis://127.0.0.1:${port}`, 'producer');
    const errors: CacheError[] = [];
    const cache = await createCache({
      redis: down,
      prefix: `${prefix}:cache`,
      breaker: { threshold: 2, resetMs: 60_000 },
      onError: (err) => errors.push(err),
    });
    cleanups.push(async () => {
      await cache.close();
      down.disconnect();
    });
    await cache.set('k', 'from memory');
    expect(await cache.get('k')).toBe('from memory');
    expect(await cache.has('k')).toBe(true);
    let calls = 0;
    expect(await cache.cached('computed', 60_000, async () => `fn ${++calls}`)).toBe('fn 1');
    expect(await cache.cached('computed', 60_000, async () => `fn ${++calls}`)).toBe('fn 1');
    expect(await cache.get('absent')).toBeUndefined();
    await cache.delete('k');
    expect(await cache.get('k')).toBeUndefined();
    await cache.invalidateTags(['t']);
    await cache.invalidatePattern('*');
    const stats = cache.stats();
    expect(stats.errors).toBe(2);
    expect(stats.breaker).toBe('open');
    expect(errors.map((e) => e.code)).toEqual(['CACHE_REDIS', 'CACHE_REDIS']);
    expect(errors[0]!.cause).toBeInstanceOf(Error);
  });

  it('throws Redis errors at the caller only when asked', async () => {
    const port = await closedPort();
    const down = createRedis(`redis://127.0.0.1:${port}`, 'producer');
    const cache = await createCache({ redis: down, prefix: `${prefix}:cache`, throwOnError: true });
    cleanups.push(async () => {
      await cache.close();
      down.disconnect();
    });
    const err = await cache.get('k').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CacheError);
    expect((err as CacheError).code).toBe('CACHE_REDIS');
  });

  it('survives losing its connection mid-way: memory still answers, fn still computes', async () => {
    const { cache, redis } = await instance();
    await cache.set('before', 'cached');
    redis.disconnect();
    expect(await cache.get('before')).toBe('cached');
    expect(await cache.cached('after', 60_000, async () => 'computed')).toBe('computed');
    expect(await cache.get('after')).toBe('computed');
    expect(cache.stats().errors).toBeGreaterThan(0);
  });
});
