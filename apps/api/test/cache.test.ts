import type { ServerResponse } from 'node:http';
import { TestAttemptsRepository } from '@crucible/db';
import { RedisEventLog, RedisPubSub, channelKeys, createRedis } from '@crucible/backplane';
import {
  CacheStrategy,
  cachePrefix,
  createBackplaneCache,
  createCache,
  invalidatingEventLog,
} from '@crucible/cache';
import type { Cache } from '@crucible/cache';
import { Channels, Events, channelName, createMessage, queueJobAdded } from '@crucible/contracts';
import type { EventLog } from '@crucible/contracts';
import type { Backplane } from '@crucible/backplane';
import { createTestWorker } from '@crucible/worker';
import type { TestWorker } from '@crucible/worker';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL, createTestBackplane, localEngines, startApi, startTarget } from './helpers.js';

type Api = Awaited<ReturnType<typeof startApi>>;

describe('response cache', () => {
  let api1: Api;
  let api2: Api;
  let urls: [string, string];
  let admin: string;
  let alice: { token: string; id: string };
  let bob: string;
  let attempts: TestAttemptsRepository;
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
    attempts = new TestAttemptsRepository(api1.db.kysely);

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
    const started = await attempts.startAttempt(testId, 0);
    expect(started).toBeDefined();
    expect(
      await attempts.finishAttempt({ testId, attempt: started!.attempt }, 'completed', {
        result: { score: 97 },
      }),
    ).toBe(true);
    await workerLog.publish(
      createMessage({
        event: Events.TEST_COMPLETED,
        channel: channelName(Channels.TEST_PROGRESS, { testId }),
        data: { testId, status: 'completed', verdict: 'none', progress: 100, summary: { score: 97 } },
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
      // Published as a lot, the way the worker publishes a status change: the invalidation the
      // lot's status event calls for comes first, whichever of its messages carries it.
      await workerLog.publishAll([
        createMessage({
          event: Events.TEST_PROGRESS,
          channel: channelName(Channels.TEST_PROGRESS, { testId }),
          data: { testId, progress: 0 },
          userId: alice.id,
        }),
        createMessage({
          event: Events.QUEUE_JOB_ADDED,
          channel,
          data: queueJobAdded({ testId, testType: 'performance', queuePosition: 1 }),
          userId: alice.id,
        }),
      ]);
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

describe('cached lists and queue status', () => {
  let api1: Api;
  let api2: Api;
  let urls: [string, string];
  let admin: string;
  let alice: { token: string; id: string };
  let bob: { token: string; id: string };
  /** The test site: requests to /hold wait until `release()`, so a running test stays running. */
  let target: Awaited<ReturnType<typeof startTarget>>;
  const held: ServerResponse[] = [];
  let holding = true;
  const release = () => {
    holding = false;
    for (const res of held.splice(0)) res.end('<!doctype html><title>target</title>');
  };

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
    target = await startTarget((req, res) => {
      if (req.url === '/hold' && holding) held.push(res);
      else res.end('<!doctype html><title>target</title>');
    });
    api1 = await startApi();
    api2 = await startApi({}, { databaseUrl: api1.databaseUrl, prefix: api1.prefix });
    urls = [
      await api1.app.listen({ port: 0, host: '127.0.0.1' }),
      await api2.app.listen({ port: 0, host: '127.0.0.1' }),
    ];
    admin = (await register('admin@example.com')).token;
    alice = await register('alice@example.com');
    bob = await register('bob@example.com');
  });
  afterAll(async () => {
    release();
    await api2?.close();
    await api1?.close();
    await target?.close();
  });

  async function get(base: string, path: string, token: string, headers: Record<string, string> = {}) {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : null };
  }
  const xCache = async (base: string, path: string, token: string) =>
    (await get(base, path, token)).headers.get('x-cache');

  async function submit(token: string, path = '/hold'): Promise<string> {
    const res = await fetch(`${urls[0]}/api/test/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        testType: 'performance',
        url: `${target.url.slice(0, -1)}${path}`,
        config: { iterations: 1 },
      }),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { testId: string }).testId;
  }

  /** Resolves when `event` is out on the channel, the way the gateway (and so a dashboard) hears it. */
  async function listen(channel: string, event: Events) {
    const subscriber = createRedis(REDIS_URL, 'subscriber');
    const seen = new Promise<void>((resolve) =>
      subscriber.on('message', (_topic: string, raw: string) => {
        if ((JSON.parse(raw) as { event: string }).event === event) resolve();
      }),
    );
    await subscriber.subscribe(channelKeys(api1.prefix, channel).pubsub);
    return { seen, close: () => subscriber.disconnect() };
  }

  /** A worker process of the deployment: its events invalidate through a Redis-only cache, as in apps/worker. */
  async function startWorker(): Promise<{ worker: TestWorker; close(): Promise<void> }> {
    const backplane: Backplane = await createTestBackplane(api1.prefix);
    const cache = await createBackplaneCache(backplane.cacheStack, {
      strategy: CacheStrategy.REDIS_ONLY,
      prefix: cachePrefix(api1.prefix),
    });
    const worker = createTestWorker({
      db: api1.db,
      backplane,
      cache,
      concurrency: 1,
      logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      engines: localEngines(),
    });
    await worker.ready;
    return {
      worker,
      async close() {
        await worker.close();
        await cache.close();
        await backplane.close();
      },
    };
  }

  const LIST = '/api/test/queue/jobs?limit=5';
  const STATUS = '/api/test/queue/status';

  it("follows a test through submit, the worker's start and its completion: HIT until it changes, then MISS", async () => {
    const miss = await get(urls[0], LIST, alice.token);
    expect(miss.status).toBe(200);
    expect(miss.headers.get('x-cache')).toBe('MISS');
    expect(miss.body).toEqual({ items: [], nextCursor: null });
    const hit = await get(urls[0], LIST, alice.token);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(hit.text).toBe(miss.text);
    expect(hit.headers.get('cache-control')).toBe('private, no-cache');
    expect(hit.headers.get('vary')).toMatch(/authorization/i);
    const etag = hit.headers.get('etag')!;
    expect(etag).toBe(miss.headers.get('etag'));
    const notModified = await get(urls[0], LIST, alice.token, { 'if-none-match': etag });
    expect(notModified.status).toBe(304);
    expect(notModified.text).toBe('');
    expect((await get(urls[0], STATUS, alice.token)).headers.get('x-cache')).toBe('MISS');
    expect(await xCache(urls[0], STATUS, alice.token)).toBe('HIT');

    // Submitted (no worker yet): the list and the counts show it at once.
    const testId = await submit(alice.token);
    const queued = await get(urls[0], LIST, alice.token);
    expect(queued.headers.get('x-cache')).toBe('MISS');
    expect(queued.body.items.map((t: { testId: string; status: string }) => [t.testId, t.status])).toEqual([
      [testId, 'queued'],
    ]);
    const changed = await get(urls[0], LIST, alice.token, { 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
    const queuedStatus = await get(urls[0], STATUS, alice.token);
    expect(queuedStatus.headers.get('x-cache')).toBe('MISS');
    expect(queuedStatus.body.user).toEqual({ queued: 1, running: 0, completed: 0, failed: 0, cancelled: 0 });
    expect(await xCache(urls[0], STATUS, alice.token)).toBe('HIT');

    const channel = channelName(Channels.TEST_PROGRESS, { testId });
    const started = await listen(channel, Events.TEST_STARTED);
    const completed = await listen(channel, Events.TEST_COMPLETED);
    const worker = await startWorker();
    try {
      await started.seen;
      const running = await get(urls[0], LIST, alice.token);
      expect(running.headers.get('x-cache')).toBe('MISS');
      expect(running.body.items[0]).toMatchObject({ testId, status: 'running' });
      expect(await xCache(urls[0], LIST, alice.token)).toBe('HIT');
      const runningStatus = await get(urls[0], STATUS, alice.token);
      expect(runningStatus.headers.get('x-cache')).toBe('MISS');
      expect(runningStatus.body.user).toMatchObject({ queued: 0, running: 1 });

      release();
      await completed.seen;
      // Whoever reacts to test:completed reads the new status, from either api process.
      for (const base of urls) {
        const done = await get(base, LIST, alice.token);
        expect(done.body.items[0]).toMatchObject({ testId, status: 'completed', progress: 100 });
        const status = await get(base, STATUS, alice.token);
        expect(status.body.user).toEqual({ queued: 0, running: 0, completed: 1, failed: 0, cancelled: 0 });
      }
    } finally {
      started.close();
      completed.close();
      await worker.close();
      holding = true;
    }
  }, 60_000);

  it("drops another api process's cached list when a write goes through this one", async () => {
    await get(urls[1], LIST, alice.token);
    const before = await get(urls[1], LIST, alice.token);
    expect(before.headers.get('x-cache')).toBe('HIT');

    const testId = await submit(alice.token);
    const after = await get(urls[1], LIST, alice.token);
    expect(after.headers.get('x-cache')).toBe('MISS');
    expect(after.body.items[0]).toMatchObject({ testId, status: 'queued' });
    expect(await xCache(urls[1], LIST, alice.token)).toBe('HIT');

    const cancelled = await fetch(`${urls[0]}/api/test/${testId}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.token}` },
    });
    expect(cancelled.status).toBe(200);
    const fresh = await get(urls[1], LIST, alice.token);
    expect(fresh.headers.get('x-cache')).toBe('MISS');
    expect(fresh.body.items[0]).toMatchObject({ testId, status: 'cancelled' });
    const status = await get(urls[1], STATUS, alice.token);
    expect(status.body.user).toMatchObject({ queued: 0, cancelled: 1 });
  });

  it("never answers one user's list with another user's cached page, whatever the query string", async () => {
    const path = '/api/test/queue/jobs?limit=20';
    const asAlice = await get(urls[0], path, alice.token);
    expect(asAlice.body.items).toHaveLength(2);
    expect(await xCache(urls[0], path, alice.token)).toBe('HIT');

    const asBob = await get(urls[0], path, bob.token);
    expect(asBob.headers.get('x-cache')).toBe('MISS');
    expect(asBob.body).toEqual({ items: [], nextCursor: null });
    const againAsBob = await get(urls[0], path, bob.token);
    expect(againAsBob.headers.get('x-cache')).toBe('HIT');
    expect(againAsBob.text).toBe(asBob.text);
    // Bob asking for Alice's tests is refused, and the refusal is never cached.
    const forbidden = `/api/test/queue/jobs?userId=${alice.id}`;
    for (let i = 0; i < 2; i++) {
      const res = await get(urls[0], forbidden, bob.token);
      expect(res.status).toBe(403);
      expect(res.headers.get('x-cache')).toBe('MISS');
    }
    // Each query string is a page of its own.
    const filtered = await get(urls[0], '/api/test/queue/jobs?limit=20&status=cancelled', alice.token);
    expect(filtered.headers.get('x-cache')).toBe('MISS');
    expect(filtered.body.items.map((t: { status: string }) => t.status)).toEqual(['cancelled']);
    const paged = await get(urls[0], '/api/test/queue/jobs?limit=1', alice.token);
    expect(paged.headers.get('x-cache')).toBe('MISS');
    expect(paged.body.items).toHaveLength(1);
    const next = await get(
      urls[0],
      `/api/test/queue/jobs?limit=1&cursor=${paged.body.nextCursor}`,
      alice.token,
    );
    expect(next.headers.get('x-cache')).toBe('MISS');
    expect(next.body.items[0].testId).not.toBe(paged.body.items[0].testId);
  });

  it("drops an admin's list of every user's tests on any user's change", async () => {
    const all = '/api/test/queue/jobs';
    const ofBob = `/api/test/queue/jobs?userId=${bob.id}`;
    const ofAlice = `/api/test/queue/jobs?userId=${alice.id}`;
    for (const [base, path] of [
      [urls[0], all],
      [urls[1], all],
      [urls[0], ofBob],
      [urls[0], ofAlice],
    ] as const) {
      await get(base, path, admin);
      expect(await xCache(base, path, admin)).toBe('HIT');
    }
    expect((await get(urls[0], all, admin)).body.items).toHaveLength(2);

    const testId = await submit(bob.token);
    const fresh = await get(urls[1], all, admin);
    expect(fresh.headers.get('x-cache')).toBe('MISS');
    expect(fresh.body.items).toHaveLength(3);
    expect(fresh.body.items[0]).toMatchObject({ testId, status: 'queued' });
    // The first process's memory entry is gone too: it reads the page the second just stored.
    expect((await get(urls[0], all, admin)).text).toBe(fresh.text);
    const bobs = await get(urls[0], ofBob, admin);
    expect(bobs.headers.get('x-cache')).toBe('MISS');
    expect(bobs.body.items.map((t: { testId: string }) => t.testId)).toEqual([testId]);
    // A list of one user's tests is that user's: Bob's change leaves Alice's page cached.
    expect(await xCache(urls[0], ofAlice, admin)).toBe('HIT');
  });

  it("does not drop lists on a test's progress, only on its status changes", async () => {
    const [latest] = (await get(urls[0], LIST, alice.token)).body.items as { testId: string }[];
    expect(await xCache(urls[0], LIST, alice.token)).toBe('HIT');
    // Published the way the worker publishes: through the invalidating event log.
    await invalidatingEventLog(api1.eventLog, api1.cache).publish(
      createMessage({
        event: Events.TEST_PROGRESS,
        channel: channelName(Channels.TEST_PROGRESS, { testId: latest!.testId }),
        data: { testId: latest!.testId, progress: 40 },
        userId: alice.id,
      }),
    );
    expect(await xCache(urls[0], LIST, alice.token)).toBe('HIT');
  });
});
