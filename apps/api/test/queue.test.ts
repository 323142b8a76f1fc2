import { once } from 'node:events';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnrecoverableError } from 'bullmq';
import { jobIdOf, testJobData, testJobOptions } from '@crucible/contracts';
import { TestAttemptsRepository, TestDispatchRepository, createDb } from '@crucible/db';
import { EngineError } from '@crucible/worker';
import type { Engine } from '@crucible/worker';
import { buildApi } from '../src/app.js';
import { auth, localEngines, register, startApi, startTarget } from './helpers.js';
import type { Api } from './helpers.js';

/**
 * Test-only engine, registered as `stress`: requests the target again and again until aborted,
 * like a load test. It reports progress once only, so nothing but the abort signal can stop it
 * (a progress write would also notice a cancelled row).
 */
const hammer: Engine = async (url, _config, ctx) => {
  let reported = false;
  while (!ctx.signal.aborted) {
    // One controller per request: fetch keeps a listener on the signal it is given for as long as
    // its Request lives, so thousands of requests on the job's own signal would pile listeners up.
    const request = new AbortController();
    const onAbort = () => request.abort(ctx.signal.reason);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const res = await fetch(url, { signal: request.signal });
      await res.arrayBuffer();
    } catch (err) {
      if (ctx.signal.aborted) break;
      throw err;
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
    }
    if (!reported) {
      reported = true;
      await ctx.progress(1, 'request');
    }
  }
  throw ctx.signal.reason;
};

/** Test-only engine, registered as `api`: one request; a 5xx answer makes it crash (a transient failure). */
const crashOn5xx: Engine = async (url, _config, ctx) => {
  const res = await fetch(url, { signal: ctx.signal });
  await res.arrayBuffer();
  if (res.status >= 500) throw new Error(`engine crashed: target answered ${res.status}`);
  await ctx.progress(50, 'request');
  return { summary: { status: res.status } };
};

const engines = { ...localEngines(), stress: hammer, api: crashOn5xx };

let api: Api;
let alice: { token: string; id: string };
let bob: { token: string; id: string };
let admin: { token: string; id: string };
const cleanups: (() => Promise<void>)[] = [];

beforeEach(async () => {
  api = await startApi();
  admin = await register(api, 'admin@example.com');
  alice = await register(api, 'alice@example.com');
  bob = await register(api, 'bob@example.com');
});

afterEach(async () => {
  await api.close();
  for (const c of cleanups.splice(0)) await c();
});

async function target(...args: Parameters<typeof startTarget>) {
  const t = await startTarget(...args);
  cleanups.push(() => t.close());
  return t;
}

async function submit(token: string, payload: Record<string, unknown>, headers: Record<string, string> = {}) {
  return api.app.inject({
    method: 'POST',
    url: '/api/test/run',
    headers: { ...auth(token), ...headers },
    payload,
  });
}

async function submitOk(token: string, payload: Record<string, unknown>) {
  const res = await submit(token, payload);
  expect(res.statusCode, res.body).toBe(202);
  return res.json() as {
    testId: string;
    status: string;
    queuePosition: number | null;
    etaSeconds: number | null;
  };
}

async function detail(token: string, testId: string) {
  const res = await api.app.inject({
    method: 'GET',
    url: `/api/test/queue/jobs/${testId}`,
    headers: auth(token),
  });
  return res.json();
}

const post = (token: string, url: string) => api.app.inject({ method: 'POST', url, headers: auth(token) });

async function events(channel: string): Promise<string[]> {
  return (await api.eventLog.recover(channel, 0)).messages.map((m) => m.event);
}

describe('priorities', () => {
  it('starts a priority-10 test before earlier lower-priority ones while the worker is busy', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const site = await target(async (req, res) => {
      if (req.url === '/hold') await gate;
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>t</title>');
    });
    await api.startWorker({ concurrency: 1 });

    const busy = await submitOk(alice.token, {
      testType: 'performance',
      url: `${site.url}hold`,
      config: { iterations: 1 },
    });
    await expect.poll(async () => (await detail(alice.token, busy.testId)).status).toBe('running');

    const low = await submitOk(alice.token, {
      testType: 'performance',
      url: site.url,
      priority: 1,
      config: { iterations: 1 },
    });
    const mid = await submitOk(bob.token, {
      testType: 'performance',
      url: site.url,
      config: { iterations: 1 },
    });
    const high = await submitOk(alice.token, {
      testType: 'performance',
      url: site.url,
      priority: 10,
      config: { iterations: 1 },
    });
    expect([low.queuePosition, mid.queuePosition, high.queuePosition]).toEqual([1, 1, 1]);

    const lowNow = await detail(alice.token, low.testId);
    expect(lowNow).toMatchObject({ status: 'queued', queuePosition: 3 });
    // No history yet: every test is assumed to take 30 s, one worker slot, two tests and the busy one ahead.
    expect(lowNow.etaSeconds).toBeGreaterThan(90);
    expect(lowNow.etaSeconds).toBeLessThanOrEqual(120);

    release();
    for (const t of [low, mid, high]) {
      await expect
        .poll(async () => (await detail(admin.token, t.testId)).status, { timeout: 20_000 })
        .toBe('completed');
    }
    const started = await Promise.all(
      [high, mid, low].map(async (t) => Date.parse((await detail(admin.token, t.testId)).startedAt)),
    );
    expect([...started].sort((a, b) => a - b)).toEqual(started);
  });
});

describe('attempts and timeouts', () => {
  it('retries an engine crash with backoff, queued meanwhile, and succeeds on the third attempt', async () => {
    const site = await target((_req, res, n) => {
      res.writeHead(n <= 2 ? 503 : 200);
      res.end();
    });
    await api.startWorker({ engines });
    const { testId } = await submitOk(alice.token, { testType: 'api', url: site.url });

    // Between attempts the row is queued again, with the retry counted, never failed.
    await expect
      .poll(
        async () => {
          const d = await detail(alice.token, testId);
          return [d.status, d.retryCount];
        },
        { timeout: 10_000 },
      )
      .toEqual(['queued', 1]);
    await expect
      .poll(async () => (await detail(alice.token, testId)).status, { timeout: 30_000 })
      .toBe('completed');

    const done = await detail(alice.token, testId);
    expect(done).toMatchObject({ retryCount: 2, result: { summary: { status: 200 } }, errorMessage: null });
    expect(done.attempts.map((a: { status: string }) => a.status)).toEqual([
      'retrying',
      'retrying',
      'completed',
    ]);
    expect(done.attempts[0].errorMessage).toBe('engine crashed: target answered 503');
    expect(site.hits).toBe(3);
    const jobEvents = await events(`job-status-${testId}`);
    expect(jobEvents.filter((e) => e === 'queue:job:failed')).toHaveLength(2);
    expect(jobEvents.at(-1)).toBe('queue:job:completed');
    expect((await events(`test-progress-${testId}`)).filter((e) => e === 'test:completed')).toHaveLength(1);
  });

  it('fails a test past its type timeout at once, with a clear message, and its traffic stops', async () => {
    const site = await target();
    const worker = await api.startWorker({ engines, timeoutMs: () => 1_000 });
    const failed = once(worker.consumers.get('tests')!, 'failed');
    const { testId } = await submitOk(alice.token, { testType: 'stress', url: site.url });

    await failed;
    const d = await detail(alice.token, testId);
    expect(d).toMatchObject({
      status: 'failed',
      errorMessage: 'the test did not finish within 1000 ms',
      retryCount: 0,
    });
    expect((await api.queue.getJob(testId))?.attemptsMade).toBe(1);
    const after = site.hits;
    expect(after).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(site.hits).toBe(after);
  });
});

describe('stress connections per workspace', () => {
  it('keeps a stress test queued, saying why, while its user’s others hold the connections; another user’s runs', async () => {
    const site = await target();
    await api.startWorker({
      engines,
      concurrency: 3,
      maxStressConnectionsPerOwner: 150,
      // Three stress tests against one local target: the host's cap is not what this test is about.
      targetHostMaxConcurrent: 3,
      stressRetryMs: 200,
    });
    const config = { connections: 100 };
    const first = await submitOk(alice.token, { testType: 'stress', url: site.url, config });
    await expect.poll(async () => (await detail(alice.token, first.testId)).status).toBe('running');
    const second = await submitOk(alice.token, { testType: 'stress', url: site.url, config });
    // Bob's 100 are his own: they do not count against Alice's 150.
    const other = await submitOk(bob.token, { testType: 'stress', url: site.url, config });
    await expect.poll(async () => (await detail(bob.token, other.testId)).status).toBe('running');

    await expect
      .poll(async () => (await detail(alice.token, second.testId)).waitReason, { timeout: 15_000 })
      .toBe(
        "waiting for stress connections: this test needs 100, and 100 of the 150 one workspace's stress tests may hold at once are in use",
      );
    const waiting = await detail(alice.token, second.testId);
    expect(waiting).toMatchObject({ status: 'queued', queuePosition: 1, attempts: [] });
    expect(await events(`job-status-${second.testId}`)).toEqual(['queue:job:added', 'queue:job:waiting']);

    // Once the first gives its connections back, the second runs with all it asked for.
    expect((await post(alice.token, `/api/test/${first.testId}/cancel`)).statusCode).toBe(200);
    await expect
      .poll(async () => (await detail(alice.token, second.testId)).status, { timeout: 15_000 })
      .toBe('running');
    expect((await detail(alice.token, second.testId)).waitReason).toBeNull();
    for (const [token, testId] of [
      [alice.token, second.testId],
      [bob.token, other.testId],
    ] as const) {
      expect((await post(token, `/api/test/${testId}/cancel`)).statusCode).toBe(200);
    }
  }, 90_000);
});

describe('cancel and retry', () => {
  it('aborts a running test on whichever worker runs it; its requests stop; 409 afterwards', async () => {
    const site = await target();
    const first = await api.startWorker({ engines });
    const second = await api.startWorker({ engines });
    const { testId } = await submitOk(alice.token, { testType: 'stress', url: site.url });
    await expect.poll(() => site.hits).toBeGreaterThan(5);

    expect((await post(bob.token, `/api/test/${testId}/cancel`)).statusCode).toBe(404);
    const res = await post(alice.token, `/api/test/${testId}/cancel`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ testId, status: 'cancelled' });

    // The job ends (the catalogue's stress timeout is 40 s: only the broadcast can end it this soon).
    await expect.poll(() => api.queue.getJobState(testId), { timeout: 15_000 }).toBe('failed');
    const after = site.hits;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(site.hits).toBe(after);

    const d = await detail(alice.token, testId);
    expect(d).toMatchObject({ status: 'cancelled', errorMessage: null, result: null });
    expect(d.attempts.map((a: { status: string }) => a.status)).toEqual(['cancelled']);
    const progress = await events(`test-progress-${testId}`);
    expect(progress.filter((e) => e === 'test:cancelled')).toHaveLength(1);
    expect(progress.filter((e) => e === 'test:completed' || e === 'test:failed')).toEqual([]);

    const again = await post(alice.token, `/api/test/${testId}/cancel`);
    expect(again.statusCode).toBe(409);
    expect(again.headers['content-type']).toContain('application/problem+json');
    expect(again.json().code).toBe('TEST_FINISHED');
    await Promise.all([first.close(), second.close()]);
  });

  it('never runs a cancelled queued test, then retries it as a new run that really runs', async () => {
    const site = await target();
    const { testId } = await submitOk(alice.token, {
      testType: 'performance',
      url: site.url,
      priority: 8,
      config: { iterations: 1 },
    });
    // No worker slot is free: it waits on its workspace's list, no job in the queue yet.
    expect(await api.queue.getJobState(testId)).toBe('unknown');

    expect((await post(alice.token, `/api/test/${testId}/cancel`)).statusCode).toBe(200);
    expect((await detail(alice.token, testId)).status).toBe('cancelled');

    expect((await post(bob.token, `/api/test/queue/jobs/${testId}/retry`)).statusCode).toBe(404);
    const retried = await post(alice.token, `/api/test/queue/jobs/${testId}/retry`);
    expect(retried.statusCode).toBe(202);
    expect(retried.json()).toMatchObject({ testId, status: 'queued', queuePosition: 1 });
    // Only failed or cancelled tests can be retried.
    expect((await post(alice.token, `/api/test/queue/jobs/${testId}/retry`)).statusCode).toBe(409);

    await api.startWorker();
    await expect
      .poll(async () => (await detail(alice.token, testId)).status, { timeout: 20_000 })
      .toBe('completed');
    expect(site.hits).toBe(1);
    // The dispatcher released the new run alone, with the test's priority; the cancelled run never.
    const job = await api.queue.getJob(jobIdOf(testId, 1));
    expect(job?.data).toMatchObject({ testId, run: 1 });
    expect(job?.opts.priority).toBe(3);
    expect(await api.queue.getJobState(testId)).toBe('unknown');
    const d = await detail(alice.token, testId);
    expect(d.attempts.map((a: { run: number; status: string }) => [a.run, a.status])).toEqual([
      [1, 'completed'],
    ]);
    const conflict = await post(alice.token, `/api/test/queue/jobs/${testId}/retry`);
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json().code).toBe('NOT_RETRYABLE');
  });

  it('retries a failed test: the old failure stays in the history and the new run succeeds', async () => {
    let up = false;
    const site = await target((_req, res) => {
      res.writeHead(up ? 200 : 404);
      res.end();
    });
    await api.startWorker({
      engines: {
        ...engines,
        api: async (url, _c, ctx) => {
          const res = await fetch(url, { signal: ctx.signal });
          await res.arrayBuffer();
          if (res.status === 404) throw new EngineError('TARGET_UNREACHABLE', 'the target answered 404');
          return { summary: { status: res.status } };
        },
      },
    });
    const { testId } = await submitOk(alice.token, { testType: 'api', url: site.url });
    await expect
      .poll(async () => (await detail(alice.token, testId)).status, { timeout: 20_000 })
      .toBe('failed');
    up = true;
    expect((await post(alice.token, `/api/test/queue/jobs/${testId}/retry`)).statusCode).toBe(202);
    await expect
      .poll(async () => (await detail(alice.token, testId)).status, { timeout: 20_000 })
      .toBe('completed');
    const d = await detail(alice.token, testId);
    expect(d.attempts.map((a: { run: number; status: string }) => [a.run, a.status])).toEqual([
      [0, 'failed'],
      [1, 'completed'],
    ]);
    // The engine's own result, whole, beside the metrics and thresholds the worker derives from it.
    expect(d.result).toMatchObject({ summary: { status: 200 }, thresholds: [] });
    expect(Object.keys(d.result.metrics)).toEqual(['checks.failed', 'checks.passed', 'duration.total']);
  });
});

describe('idempotency', () => {
  it('turns 50 concurrent submissions with one key into one row and one job; another body is 422', async () => {
    const body = { testType: 'performance', url: 'http://127.0.0.1:8080/', config: { iterations: 2 } };
    const key = { 'idempotency-key': 'order-42' };
    const responses = await Promise.all(Array.from({ length: 50 }, () => submit(alice.token, body, key)));
    expect(responses.map((r) => r.statusCode)).toEqual(responses.map(() => 202));
    const ids = new Set(responses.map((r) => r.json().testId as string));
    expect(ids.size).toBe(1);
    expect(responses.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(49);

    const rows = await api.db.kysely.selectFrom('test_queue').select('test_id').execute();
    expect(rows.map((r) => r.test_id)).toEqual([...ids]);
    // One row, so one job once a dispatcher releases it (its id is the test's).
    await api.startWorker({
      concurrency: 1,
      dispatchAnnounceGraceMs: 0,
      engines: { performance: async () => ({ summary: {} }) },
    });
    await expect.poll(() => api.queue.getJobState([...ids][0]!), { timeout: 10_000 }).toBe('completed');
    const counts = await api.queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed');
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(1);

    // The same body in another key order is the same request.
    const reordered = await submit(
      alice.token,
      { config: { iterations: 2 }, url: 'http://127.0.0.1:8080/', testType: 'performance' },
      key,
    );
    expect(reordered.json().testId).toBe([...ids][0]);
    const other = await submit(alice.token, { ...body, priority: 9 }, key);
    expect(other.statusCode).toBe(422);
    expect(other.json().code).toBe('IDEMPOTENCY_KEY_REUSED');
    // Keys belong to their user.
    const bobs = await submit(bob.token, body, key);
    expect(bobs.statusCode).toBe(202);
    expect(bobs.json().testId).not.toBe([...ids][0]);
    expect((await submit(alice.token, body, { 'idempotency-key': 'has space' })).statusCode).toBe(400);
  });
});

describe('lists, status and cleanup', () => {
  it('lists the caller’s tests newest first with filters, URL search and cursor pages', async () => {
    const mine: string[] = [];
    for (const [testType, url] of [
      ['performance', 'http://127.0.0.1:8080/a_b'],
      ['seo', 'http://127.0.0.1:8080/axb'],
      ['performance', 'http://127.0.0.1:8080/SHOP/cart'],
      ['security', 'http://127.0.0.1:8080/shop'],
      ['performance', 'http://127.0.0.1:8080/'],
    ]) {
      mine.push((await submitOk(alice.token, { testType, url })).testId);
    }
    const bobs = [(await submitOk(bob.token, { testType: 'seo', url: 'http://127.0.0.1:8080/shop' })).testId];
    await post(alice.token, `/api/test/${mine[1]}/cancel`);

    const list = async (token: string, query: string) => {
      const res = await api.app.inject({
        method: 'GET',
        url: `/api/test/queue/jobs?${query}`,
        headers: auth(token),
      });
      return { status: res.statusCode, body: res.json() };
    };
    const ids = (b: { items: { testId: string }[] }) => b.items.map((i) => i.testId);

    const pages: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { items: { testId: string }[]; nextCursor: string | null } } =
        await list(alice.token, `limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      pages.push(...ids(page.body));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(pages).toEqual([...mine].reverse());

    expect(ids((await list(alice.token, 'testType=performance')).body)).toEqual([mine[4], mine[2], mine[0]]);
    expect(ids((await list(alice.token, 'status=cancelled')).body)).toEqual([mine[1]]);
    expect(ids((await list(alice.token, 'url=shop')).body)).toEqual([mine[3], mine[2]]);
    // `_` and `%` are literal characters, not wildcards.
    expect(ids((await list(alice.token, 'url=a_b')).body)).toEqual([mine[0]]);
    expect(ids((await list(alice.token, 'url=shop&testType=security')).body)).toEqual([mine[3]]);

    expect(ids((await list(admin.token, `userId=${bob.id}`)).body)).toEqual(bobs);
    expect(ids((await list(admin.token, 'limit=100')).body)).toHaveLength(6);
    expect((await list(alice.token, `userId=${bob.id}`)).status).toBe(403);
    expect((await list(alice.token, 'cursor=bm9wZQ')).status).toBe(400);
    expect((await list(alice.token, 'status=weird')).status).toBe(400);
  });

  it('names each test’s owner, and lets an admin list one owner’s tests by email', async () => {
    const alices = (await submitOk(alice.token, { testType: 'seo', url: 'http://127.0.0.1:8080/a' })).testId;
    const bobs = (await submitOk(bob.token, { testType: 'seo', url: 'http://127.0.0.1:8080/b' })).testId;
    const list = (token: string, query = '') =>
      api.app.inject({ method: 'GET', url: `/api/test/queue/jobs?${query}`, headers: auth(token) });
    const owners = (res: { json(): { items: { testId: string; owner: unknown }[] } }) =>
      res.json().items.map((i) => [i.testId, i.owner]);

    expect(owners(await list(admin.token))).toEqual([
      [bobs, { id: bob.id, email: 'bob@example.com' }],
      [alices, { id: alice.id, email: 'alice@example.com' }],
    ]);
    expect(owners(await list(alice.token))).toEqual([[alices, { id: alice.id, email: 'alice@example.com' }]]);
    expect(owners(await list(admin.token, 'owner=Bob@Example.com'))).toEqual([
      [bobs, { id: bob.id, email: 'bob@example.com' }],
    ]);
    expect((await list(admin.token, 'owner=nobody@example.com')).json().items).toEqual([]);
    // A user may name themselves, nobody else.
    expect(owners(await list(alice.token, 'owner=alice@example.com'))).toHaveLength(1);
    const refused = await list(alice.token, 'owner=bob@example.com');
    expect(refused.statusCode).toBe(403);
    expect(refused.json().detail).toBe("Only admins may list other users' tests");
    expect((await list(admin.token, 'owner=not-an-email')).statusCode).toBe(400);
  });

  it('counts the caller’s tests by status and the queue’s jobs and live workers', async () => {
    // Nothing listens there: once a worker runs them, the tests fail.
    const closed = await target();
    await closed.close();
    const a = await submitOk(alice.token, { testType: 'performance', url: closed.url });
    const b = await submitOk(alice.token, { testType: 'performance', url: closed.url });
    await submitOk(bob.token, { testType: 'performance', url: closed.url });
    await post(alice.token, `/api/test/${a.testId}/cancel`);

    const status = async () =>
      (
        await api.app.inject({ method: 'GET', url: '/api/test/queue/status', headers: auth(alice.token) })
      ).json();
    expect(await status()).toEqual({
      user: { queued: 1, running: 0, completed: 0, failed: 0, cancelled: 1 },
      queue: { waiting: 2, active: 0, delayed: 0, workers: 0 },
      // The caller's unfinished tests, with why each waits.
      tests: [
        {
          testId: b.testId,
          testType: 'performance',
          name: null,
          url: new URL(closed.url).toString(),
          status: 'queued',
          priority: 5,
          progress: 0,
          queuePosition: 1,
          etaSeconds: null,
          waitReason: 'no worker is online',
        },
      ],
    });
    // Everyone may read queue-updates: it carries the global counts and nothing about any user.
    await expect
      .poll(async () => (await api.eventLog.recover('queue-updates', 0)).messages.at(-1)?.data)
      .toEqual({ waiting: 2, active: 0, delayed: 0, workers: 0 });
    const updates = (await api.eventLog.recover('queue-updates', 0)).messages;
    expect(updates.every((m) => m.event === 'queue:status:updated' && m.userId === null)).toBe(true);
    await api.startWorker({ concurrency: 3 });
    // The queue's own counts (not the caller's) may be as old as the status cache's 2 s TTL.
    await expect.poll(async () => (await status()).queue.workers, { timeout: 10_000 }).toBe(1);
    await expect.poll(async () => (await status()).user.failed, { timeout: 20_000 }).toBe(1);
  });

  it('cleans up only the caller’s finished tests older than asked; admins may clean everyone’s', async () => {
    const ids = {
      aliceOld: (await submitOk(alice.token, { testType: 'seo', url: 'http://127.0.0.1:8080/' })).testId,
      aliceRecent: (await submitOk(alice.token, { testType: 'seo', url: 'http://127.0.0.1:8080/' })).testId,
      aliceQueued: (await submitOk(alice.token, { testType: 'seo', url: 'http://127.0.0.1:8080/' })).testId,
      bobOld: (await submitOk(bob.token, { testType: 'seo', url: 'http://127.0.0.1:8080/' })).testId,
    };
    const finish = (testId: string, hoursAgo: number) =>
      api.db.kysely
        .updateTable('test_queue')
        .set({ status: 'completed', completed_at: sql`now() - ${hoursAgo} * interval '1 hour'` as never })
        .where('test_id', '=', testId)
        .execute();
    await finish(ids.aliceOld, 48);
    await finish(ids.aliceRecent, 1);
    await finish(ids.bobOld, 48);
    const cleanup = (token: string, query: string) =>
      api.app.inject({ method: 'DELETE', url: `/api/test/queue/cleanup?${query}`, headers: auth(token) });

    expect((await cleanup(alice.token, 'olderThan=1;drop table test_queue')).statusCode).toBe(400);
    expect((await cleanup(alice.token, 'olderThan=24&all=true')).statusCode).toBe(403);
    const res = await cleanup(alice.token, 'olderThan=24');
    expect(res.json()).toEqual({ deleted: 1 });
    const left = async () =>
      (await api.db.kysely.selectFrom('test_queue').select('test_id').execute()).map((r) => r.test_id).sort();
    expect(await left()).toEqual([ids.aliceRecent, ids.aliceQueued, ids.bobOld].sort());
    expect((await cleanup(admin.token, 'olderThan=24&all=true')).json()).toEqual({ deleted: 1 });
    expect(await left()).toEqual([ids.aliceRecent, ids.aliceQueued].sort());
  });
});

describe('nothing lost', () => {
  it('re-enqueues released queued and orphaned running tests after their jobs are lost', async () => {
    const site = await target();
    const queued = [
      (await submitOk(alice.token, { testType: 'performance', url: site.url, config: { iterations: 1 } }))
        .testId,
      (await submitOk(bob.token, { testType: 'performance', url: site.url, config: { iterations: 1 } }))
        .testId,
    ];
    const orphan = (
      await submitOk(alice.token, { testType: 'performance', url: site.url, config: { iterations: 1 } })
    ).testId;
    // A dispatcher released them all and died before it added their jobs (or the queue lost them).
    const released = await new TestDispatchRepository(api.db.kysely).claim([...queued, orphan]);
    expect(released).toHaveLength(3);
    // A worker took this one and died: the row says running, nothing will ever finish it.
    await new TestAttemptsRepository(api.db.kysely).startAttempt(orphan, 0);

    await api.loseQueue();
    expect(await api.queue.getJobState(queued[0]!)).toBe('unknown');

    await api.startWorker({ reconcileIntervalMs: 500, reconcileGraceMs: 0, reconcileRunningStaleMs: 0 });
    for (const testId of [...queued, orphan]) {
      await expect
        .poll(async () => (await detail(admin.token, testId)).status, { timeout: 20_000 })
        .toBe('completed');
    }
    const d = await detail(alice.token, orphan);
    expect(d.attempts.map((a: { status: string }) => a.status)).toEqual(['lost', 'completed']);
    expect(d.retryCount).toBe(1);
    expect(site.hits).toBe(3);
  });

  it('fails a running test whose job BullMQ already failed without the processor', async () => {
    const { testId } = await submitOk(alice.token, {
      testType: 'performance',
      url: 'http://127.0.0.1:8080/',
    });
    // Released as a dispatcher releases it; then a consumer that is not ours takes the job and fails
    // it, as BullMQ does with a job that stalled too often.
    const [released] = await new TestDispatchRepository(api.db.kysely).claim([testId]);
    await api.queue.add(
      released!.test_type,
      testJobData(released!),
      testJobOptions(released!.test_type, testId, 0, released!.priority),
    );
    const rogue = api.backplane.createWorker(
      async () => {
        throw new UnrecoverableError('job stalled more than allowable limit');
      },
      { queue: 'tests', concurrency: 1 },
    );
    await expect.poll(() => api.queue.getJobState(testId)).toBe('failed');
    await rogue.close();
    await new TestAttemptsRepository(api.db.kysely).startAttempt(testId, 0);

    await api.startWorker({ reconcileIntervalMs: 500, reconcileGraceMs: 0, reconcileRunningStaleMs: 0 });
    await expect
      .poll(async () => (await detail(alice.token, testId)).status, { timeout: 20_000 })
      .toBe('failed');
    const d = await detail(alice.token, testId);
    expect(d.errorMessage).toBe('job stalled more than allowable limit');
    expect(d.attempts.map((a: { status: string }) => a.status)).toEqual(['failed']);
    expect(await events(`test-progress-${testId}`)).toEqual(['test:failed']);
  });

  it('answers 503 problem+json when PostgreSQL is unreachable', async () => {
    const down = createDb('postgres://postgres@127.0.0.1:1/nothing');
    const app = await buildApi({ db: down, backplane: api.backplane, tokens: api.tokens, cache: api.cache });
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/api/test/run',
        headers: auth(alice.token),
        payload: { testType: 'performance', url: 'http://127.0.0.1:8080/' },
      });
      expect(res.statusCode).toBe(503);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json()).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
    } finally {
      await app.close();
      await down.close();
    }
  });
});
