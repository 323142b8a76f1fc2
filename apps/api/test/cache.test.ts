import { TestsRepository } from '@crucible/db';
import {
  Channels,
  Events,
  RedisEventLog,
  RedisPubSub,
  channelKeys,
  channelName,
  createMessage,
  createRedis,
} from '@crucible/shared';
import type { EventLog } from '@crucible/shared';
import { CacheStrategy, cachePrefix, createCache, invalidatingEventLog } from '@crucible/shared/cache';
import type { Cache } from '@crucible/shared/cache';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL, startApi } from './helpers.js';

type Api = Awaited<ReturnType<typeof startApi>>;

describe('response cache', () => {
  let api1: Api;
  let api2: Api;
  let urls: [string, string];
  let admin: string;
  let alice: { token: string; id: string };
  let bob: string;
  let tests: TestsRepository;
  // What the worker process runs: a Redis-only cache that invalidates, and the event log through it.
  let workerRedis: Redis;
  let workerBus: RedisPubSub;
  let workerCache: Cache;
  let workerLog: EventLog;

  async function register(email: string) {
    const res = await api1.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email, password: 'correct horse battery' },
    });
    expect(res.statusCode).toBe(201);
    return { token: res.json().token as string, id: res.json().user.id as string };
  }

  beforeAll(async () => {
    api1 = await startApi();
    api2 = await startApi({}, { databaseUrl: api1.databaseUrl, prefix: api1.prefix });
    urls = [
      await api1.app.listen({ port: 0, host: '127.0.0.1' }),
      await api2.app.listen({ port: 0, host: '127.0.0.1' }),
    ];
    admin = (await register('admin@example.com')).token;
    alice = await register('alice@example.com');
    bob = (await register('bob@example.com')).token;
    tests = new TestsRepository(api1.db.kysely);

    workerRedis = createRedis(REDIS_URL, 'producer');
    await workerRedis.ping().catch(() => new Promise((r) => workerRedis.once('ready', r)));
    workerBus = new RedisPubSub({
      subscriber: createRedis(REDIS_URL, 'subscriber', () => {}, { lazyConnect: true }),
      publisher: workerRedis,
      prefix: api1.prefix,
    });
    workerCache = await createCache({
      strategy: CacheStrategy.REDIS_ONLY,
      redis: workerRedis,
      bus: workerBus,
      prefix: cachePrefix(api1.prefix),
    });
    workerLog = invalidatingEventLog(new RedisEventLog(workerRedis, { prefix: api1.prefix }), workerCache);
  });
  afterAll(async () => {
    await workerCache?.close();
    await workerBus?.close();
    workerRedis?.disconnect();
    await api2?.close();
    await api1?.close();
  });

  async function get(base: string, path: string, token: string, headers: Record<string, string> = {}) {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : null };
  }

  async function submit(token: string): Promise<string> {
    const res = await api1.app.inject({
      method: 'POST',
      url: '/api/test/run',
      headers: { authorization: `Bearer ${token}` },
      payload: { testType: 'performance', url: 'http://127.0.0.1:8080/' },
    });
    expect(res.statusCode).toBe(202);
    return res.json().testId as string;
  }

  /** Runs a test to completion the way the worker does: database first, then the event. */
  async function complete(testId: string) {
    const started = await tests.startAttempt(testId, 0);
    expect(started).toBeDefined();
    expect(
      await tests.finishAttempt({ testId, attempt: started!.attempt }, 'completed', {
        result: { score: 97 },
      }),
    ).toBe(true);
    await workerLog.publish(
      createMessage({
        event: Events.TEST_COMPLETED,
        channel: channelName(Channels.TEST_PROGRESS, { testId }),
        data: { testId, status: 'completed' },
        userId: alice.id,
      }),
    );
  }

  it('caches a finished test per user: MISS then HIT, private, ETag and 304', async () => {
    const testId = await submit(alice.token);
    const path = `/api/test/queue/jobs/${testId}`;
    // Unfinished tests change by the second: never cached.
    for (let i = 0; i < 2; i++) {
      const queued = await get(urls[0], path, alice.token);
      expect(queued.body.status).toBe('queued');
      expect(queued.headers.get('x-cache')).toBe('MISS');
    }
    await complete(testId);

    const miss = await get(urls[0], path, alice.token);
    expect(miss.status).toBe(200);
    expect(miss.headers.get('x-cache')).toBe('MISS');
    expect(miss.body).toMatchObject({ testId, status: 'completed', result: { score: 97 } });
    const hit = await get(urls[0], path, alice.token);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(hit.text).toBe(miss.text);
    expect(hit.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(hit.headers.get('cache-control')).toBe('private, no-cache');
    expect(hit.headers.get('vary')).toMatch(/authorization/i);
    const etag = miss.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect(hit.headers.get('etag')).toBe(etag);

    const notModified = await get(urls[0], path, alice.token, { 'if-none-match': etag });
    expect(notModified.status).toBe(304);
    expect(notModified.text).toBe('');
    const changed = await get(urls[0], path, alice.token, { 'if-none-match': '"something-else"' });
    expect(changed.status).toBe(200);

    // The other api process finds it in the shared Redis tier.
    const other = await get(urls[1], path, alice.token);
    expect(other.headers.get('x-cache')).toBe('HIT');
    expect(other.text).toBe(miss.text);
  });

  it("never answers one user's request with another user's cached body", async () => {
    const testId = await submit(alice.token);
    await complete(testId);
    const path = `/api/test/queue/jobs/${testId}`;
    await get(urls[0], path, alice.token);
    expect((await get(urls[0], path, alice.token)).headers.get('x-cache')).toBe('HIT');

    const asBob = await get(urls[0], path, bob);
    expect(asBob.status).toBe(404);
    expect(asBob.text).not.toContain(testId);
    expect(asBob.headers.get('x-cache')).toBe('MISS');
    // The admin may read it, but is served from a key of their own.
    const asAdmin = await get(urls[0], path, admin);
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.headers.get('x-cache')).toBe('MISS');
    expect((await get(urls[0], path, admin)).headers.get('x-cache')).toBe('HIT');
  });

  it('returns the new status from every api process as soon as the event is out', async () => {
    const testId = await submit(alice.token);
    await complete(testId);
    const path = `/api/test/queue/jobs/${testId}`;
    for (const base of urls) {
      await get(base, path, alice.token);
      expect((await get(base, path, alice.token)).headers.get('x-cache')).toBe('HIT');
    }

    // Listen the way the gateway does; react to the event the way a dashboard does.
    const channel = channelName(Channels.JOB_STATUS, { jobId: testId });
    const listener = createRedis(REDIS_URL, 'subscriber');
    const seen = new Promise<void>((resolve) => listener.on('message', () => resolve()));
    await listener.subscribe(channelKeys(api1.prefix, channel).pubsub);
    try {
      // Re-run (what a retry does): the row is queued again, then the event is published.
      await api1.db.kysely
        .updateTable('test_queue')
        .set({ status: 'queued', completed_at: null, result: null, progress: 0 })
        .where('test_id', '=', testId)
        .execute();
      await workerLog.publish(
        createMessage({
          event: Events.QUEUE_JOB_ADDED,
          channel,
          data: { jobId: testId, testId },
          userId: alice.id,
        }),
      );
      await seen;
      const [first, second] = await Promise.all(urls.map((base) => get(base, path, alice.token)));
      expect([first!.body.status, second!.body.status]).toEqual(['queued', 'queued']);
      expect([first!.headers.get('x-cache'), second!.headers.get('x-cache')]).toEqual(['MISS', 'MISS']);
    } finally {
      listener.disconnect();
    }
  });

  it('reports its statistics to admins and on /metrics', async () => {
    const forbidden = await get(urls[0], '/api/admin/cache/stats', alice.token);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toMatchObject({ status: 403, code: 'FORBIDDEN' });

    const stats = await get(urls[0], '/api/admin/cache/stats', admin);
    expect(stats.status).toBe(200);
    expect(stats.body).toMatchObject({ errors: 0, breaker: 'closed' });
    const http = stats.body.namespaces.http;
    expect(http.hits).toBeGreaterThanOrEqual(4);
    expect(http.misses).toBeGreaterThanOrEqual(4);
    expect(http.sets).toBeGreaterThanOrEqual(3);
    expect(stats.body.bus.received).toBeGreaterThanOrEqual(1);

    const metrics = await fetch(`${urls[0]}/metrics`).then((r) => r.text());
    const line = metrics
      .split('\n')
      .find((l) => l.startsWith('crucible_cache_lookups{namespace="http",tier="any",result="hit"'));
    expect(line).toBeDefined();
    expect(Number(line!.split(' ').at(-1))).toBe(http.hits);
  });
});
