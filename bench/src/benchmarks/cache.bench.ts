import { once } from 'node:events';
import KeyvRedis from '@keyv/redis';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisDriver } from 'bentocache/drivers/redis';
import { createCache as createCacheManager } from 'cache-manager';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';
import { LRUCache } from 'lru-cache';
import { CacheStrategy, createCache } from '@crucible/cache';
import { defineBenchmark } from '../harness.js';
import type { Subject } from '../harness.js';
import { REDIS_URL, benchPrefix, deletePrefix } from '../lib/redis.js';

/** A cached test detail, the size of what the API keeps (about 400 bytes of JSON). */
function value(i: number) {
  return {
    testId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    testType: 'performance',
    url: 'https://example.com/',
    name: null,
    status: 'completed',
    priority: 5,
    progress: 100,
    retryCount: 0,
    config: { iterations: 3, timeoutMs: 15_000 },
    result: { score: 97, medianMs: 120, p95Ms: 180 },
    errorMessage: null,
    createdAt: '2026-11-29T18:00:00.000Z',
    completedAt: '2026-11-29T18:00:03.000Z',
  };
}

/** Sync operations per second: batches between clock reads, so the clock costs nothing measurable. */
function syncOps(op: (i: number) => unknown, ms: number): number {
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 1_000; i++) op(n + i);
    n += 1_000;
    now = performance.now();
  }
  return (n * 1_000) / (now - start);
}

/** Async operations per second with `concurrency` callers each awaiting one operation at a time. */
async function asyncOps(
  op: (i: number) => Promise<unknown>,
  ms: number,
  concurrency: number,
): Promise<number> {
  let n = 0;
  const start = performance.now();
  const deadline = start + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        for (let i = 0; i < 100; i++) await op(n++);
      }
    }),
  );
  return (n * 1_000) / (performance.now() - start);
}

export default defineBenchmark({
  name: 'cache',
  description:
    'cache hits (memory tier, Redis tier, cached()) beside lru-cache, bentocache and cache-manager',
  order: 6,
  async run(ctx) {
    const keys = 1_000;
    const ms = ctx.size(400, 20);
    const redisConcurrency = 32;
    const prefix = benchPrefix();
    ctx.defer(() => deletePrefix(prefix));
    const key = (i: number) => `test:${i % keys}`;
    const ttl = 3_600_000;

    // Crucible: memory-first for memory hits, Redis-only for Redis hits (no bus: one process).
    const redis = new Redis(REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    await once(redis, 'ready');
    ctx.defer(() => redis.quit());
    const memory = await createCache({ strategy: CacheStrategy.MEMORY_ONLY, maxEntries: keys });
    const crucibleRedis = await createCache({
      strategy: CacheStrategy.REDIS_ONLY,
      redis,
      prefix: `${prefix}:crucible`,
    });
    ctx.defer(() => Promise.all([memory.close(), crucibleRedis.close()]));

    const lru = new LRUCache<string, object>({ max: keys });

    const bentoRedis = new Redis(REDIS_URL);
    const bento = new BentoCache({
      default: 'memory',
      stores: {
        memory: bentostore().useL1Layer(memoryDriver({ maxItems: keys })),
        redis: bentostore().useL2Layer(redisDriver({ connection: bentoRedis, prefix: `${prefix}:bento` })),
      },
    });
    ctx.defer(() => bento.disconnectAll());
    const bentoMemory = bento.use('memory');
    const bentoL2 = bento.use('redis');

    const cmMemory = createCacheManager({ ttl });
    const keyvRedis = new KeyvRedis(REDIS_URL, { namespace: `${prefix}:cm` });
    const cmRedis = createCacheManager({
      stores: [new Keyv({ store: keyvRedis, namespace: `${prefix}:cm` })],
    });
    ctx.defer(() => cmRedis.disconnect());

    ctx.log('  filling every cache with the same keys');
    for (let i = 0; i < keys; i++) {
      const v = value(i);
      await memory.set(key(i), v, ttl);
      await crucibleRedis.set(key(i), v, ttl);
      lru.set(key(i), v);
      await bentoMemory.set({ key: key(i), value: v, ttl });
      await bentoL2.set({ key: key(i), value: v, ttl });
      await cmMemory.set(key(i), v, ttl);
      await cmRedis.set(key(i), v, ttl);
      await redis.set(`${prefix}:raw:${key(i)}`, JSON.stringify(v), 'PX', ttl);
    }
    const sanity = await Promise.all([
      memory.get(key(7)),
      crucibleRedis.get(key(7)),
      bentoMemory.get({ key: key(7) }),
      bentoL2.get({ key: key(7) }),
      cmMemory.get(key(7)),
      cmRedis.get(key(7)),
    ]);
    for (const v of [...sanity, lru.get(key(7))]) {
      if ((v as { testId?: string } | undefined)?.testId !== value(7).testId)
        throw new Error('a cache missed');
    }

    const subject = (label: string, run: () => number | Promise<number>): Subject => ({
      label,
      run: async () => ({ ops: await run() }),
    });
    const metrics = [{ key: 'ops', label: 'ops/s', better: 'higher' as const }];
    const lruRaw = subject('lru-cache get (raw)', () => syncOps((i) => lru.get(key(i)), ms));
    const bentoGet = subject('bentocache get (L1)', () =>
      asyncOps((i) => bentoMemory.get({ key: key(i) }), ms, 1),
    );
    const cmGet = subject('cache-manager get (memory)', () => asyncOps((i) => cmMemory.get(key(i)), ms, 1));

    await ctx.compare({
      title: `memory-tier hit, synchronous fast path (getSync), ${keys} keys`,
      metrics,
      crucible: subject('Crucible getSync', () => syncOps((i) => memory.getSync(key(i)), ms)),
      anchors: [lruRaw, bentoGet, cmGet],
      targets: [
        { anchor: lruRaw.label, metric: 'ops', text: '≥ 10 % of lru-cache', met: (c, a) => c >= 0.1 * a },
        { anchor: bentoGet.label, metric: 'ops', text: '≥ 15× bentocache', met: (c, a) => c >= 15 * a },
      ],
    });

    await ctx.compare({
      title: `memory-tier hit, await get(), one caller, ${keys} keys`,
      metrics,
      crucible: subject('Crucible await get()', () => asyncOps((i) => memory.get(key(i)), ms, 1)),
      anchors: [lruRaw, bentoGet, cmGet],
    });

    await ctx.compare({
      title: `cached() hit (get-or-compute of a present key), one caller, ${keys} keys`,
      metrics,
      crucible: subject('Crucible await cached()', () =>
        asyncOps((i) => memory.cached(key(i), ttl, () => value(i)), ms, 1),
      ),
      anchors: [
        subject('bentocache getOrSet (L1)', () =>
          asyncOps((i) => bentoMemory.getOrSet({ key: key(i), ttl, factory: () => value(i) }), ms, 1),
        ),
        subject('cache-manager wrap (memory)', () =>
          asyncOps((i) => cmMemory.wrap(key(i), async () => value(i), ttl), ms, 1),
        ),
      ],
    });

    await ctx.compare({
      title: `Redis-tier hit (no memory tier), ${redisConcurrency} concurrent callers, ${keys} keys`,
      metrics,
      crucible: subject('Crucible await get() (Redis only)', () =>
        asyncOps((i) => crucibleRedis.get(key(i)), ms, redisConcurrency),
      ),
      anchors: [
        subject('ioredis GET + JSON.parse (raw)', () =>
          asyncOps(
            async (i) => JSON.parse((await redis.get(`${prefix}:raw:${key(i)}`))!) as unknown,
            ms,
            redisConcurrency,
          ),
        ),
        subject('bentocache get (L2 only)', () =>
          asyncOps((i) => bentoL2.get({ key: key(i) }), ms, redisConcurrency),
        ),
        subject('cache-manager get (@keyv/redis)', () =>
          asyncOps((i) => cmRedis.get(key(i)), ms, redisConcurrency),
        ),
      ],
    });

    ctx.note(
      'Each library with its defaults: bentocache serialises L1 entries (its default), cache-manager 7 keeps a Keyv Map in memory; Crucible and lru-cache keep the object.',
    );
    ctx.note(
      'A Redis-tier read is one GET (the entry carries its expiry, which a memory fill uses as its remaining TTL), behind a deadline and the circuit breaker.',
    );
  },
});
