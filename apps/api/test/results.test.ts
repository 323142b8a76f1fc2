import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { TestAttemptsRepository, TestDispatchRepository } from '@crucible/db';
import { testJobData, testJobOptions } from '@crucible/contracts';
import { auth, register, startApi, startTarget } from './helpers.js';
import type { Api } from './helpers.js';

/**
 * What a user reads about a finished test: its verdict beside its status (issue 17, "Results that
 * say the truth"), with the real engines against a local target.
 */
let api: Api;
let alice: { token: string; id: string };
const cleanups: (() => Promise<void>)[] = [];

beforeEach(async () => {
  api = await startApi();
  await register(api, 'admin@example.com');
  alice = await register(api, 'alice@example.com');
});

afterEach(async () => {
  await api.close();
  for (const c of cleanups.splice(0)) await c();
});

async function target() {
  const t = await startTarget((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  cleanups.push(() => t.close());
  return t;
}

async function submitOk(token: string, payload: Record<string, unknown>) {
  const res = await api.app.inject({ method: 'POST', url: '/api/test/run', headers: auth(token), payload });
  expect(res.statusCode, res.body).toBe(202);
  return res.json() as { testId: string };
}

async function detail(token: string, testId: string) {
  const res = await api.app.inject({
    method: 'GET',
    url: `/api/test/queue/jobs/${testId}`,
    headers: auth(token),
  });
  return res.json();
}

async function completed(token: string, testId: string) {
  await expect.poll(async () => (await detail(token, testId)).status, { timeout: 20_000 }).toBe('completed');
  return detail(token, testId);
}

/** The data of each message of `event` on a channel, in order. */
async function eventData(channel: string, event: string): Promise<Record<string, unknown>[]> {
  return (await api.eventLog.recover(channel, 0)).messages
    .filter((m) => m.event === event)
    .map((m) => m.data as Record<string, unknown>);
}

describe('verdicts', () => {
  it('says "failed" for a completed test whose checks failed, everywhere the test is shown', async () => {
    const site = await target();
    await api.startWorker();
    const failing = await submitOk(alice.token, {
      testType: 'api',
      url: site.url,
      config: { steps: [{ name: 'created?', path: '/', assert: { status: 201 } }] },
    });
    const passing = await submitOk(alice.token, {
      testType: 'api',
      url: site.url,
      config: { steps: [{ name: 'ok?', path: '/', assert: { status: 200 } }] },
    });
    const overThreshold = await submitOk(alice.token, {
      testType: 'stress',
      url: site.url,
      config: { connections: 1, durationSec: 1, thresholds: { minRps: 1_000_000 } },
    });
    const unjudged = await submitOk(alice.token, {
      testType: 'performance',
      url: site.url,
      config: { iterations: 1 },
    });

    const expected = [
      [failing.testId, 'failed'],
      [passing.testId, 'passed'],
      [overThreshold.testId, 'failed'],
      [unjudged.testId, 'none'],
    ] as const;
    for (const [testId, verdict] of expected) {
      expect(await completed(alice.token, testId)).toMatchObject({ status: 'completed', verdict });
      // The live events say it too: the test's channel and the queue's.
      expect((await eventData(`test-progress-${testId}`, 'test:completed')).map((d) => d.verdict)).toEqual([
        verdict,
      ]);
      expect((await eventData(`job-status-${testId}`, 'queue:job:completed')).map((d) => d.verdict)).toEqual([
        verdict,
      ]);
    }
    const list = await api.app.inject({
      method: 'GET',
      url: '/api/test/queue/jobs',
      headers: auth(alice.token),
    });
    const verdicts = Object.fromEntries(
      (list.json().items as { testId: string; verdict: string }[]).map((i) => [i.testId, i.verdict]),
    );
    expect(verdicts).toEqual(Object.fromEntries(expected));
  });

  it('has no verdict while a test is queued', async () => {
    const site = await target();
    const { testId } = await submitOk(alice.token, { testType: 'api', url: site.url });
    expect(await detail(alice.token, testId)).toMatchObject({ status: 'queued', verdict: null });
  });
});

describe('a bad submission', () => {
  const submit = (payload: Record<string, unknown>) =>
    api.app.inject({ method: 'POST', url: '/api/test/run', headers: auth(alice.token), payload });

  it('answers an unknown or missing test type in one line listing the allowed types', async () => {
    const unknown = await submit({ testType: 'load', url: 'http://127.0.0.1:9/' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json()).toEqual({
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      code: 'VALIDATION_ERROR',
      detail:
        'testType must be one of: performance, stress, api, seo, security, browser ("load" is not one of them)',
    });
    const missing = await submit({ url: 'http://127.0.0.1:9/' });
    expect(missing.json().detail).toBe(
      'testType must be one of: performance, stress, api, seo, security, browser (is missing)',
    );
  });

  it('names the one bad field of the config its type picks', async () => {
    const outOfRange = await submit({
      testType: 'stress',
      url: 'http://127.0.0.1:9/',
      config: { connections: 0 },
    });
    expect(outOfRange.statusCode).toBe(400);
    expect(outOfRange.json()).toMatchObject({
      code: 'INVALID_CONFIG',
      detail: 'body.config.connections must be >= 1',
    });
    // A stress option on a performance test: that type's config has no such field.
    const foreign = await submit({
      testType: 'performance',
      url: 'http://127.0.0.1:9/',
      config: { connections: 5 },
    });
    expect(foreign.json()).toMatchObject({
      code: 'INVALID_CONFIG',
      detail: 'body.config has no property "connections"',
    });
    const noUrl = await submit({ testType: 'seo' });
    expect(noUrl.json()).toMatchObject({
      code: 'VALIDATION_ERROR',
      detail: "body must have required property 'url'",
    });
  });
});

describe('run again', () => {
  it('makes a new test linked to the original, whose result stays; only a finished test', async () => {
    const site = await target();
    const bob = await register(api, 'bob@example.com');
    const { testId } = await submitOk(alice.token, {
      testType: 'performance',
      url: site.url,
      name: 'home',
      priority: 7,
      config: { iterations: 1 },
    });
    const early = await api.app.inject({
      method: 'POST',
      url: `/api/test/${testId}/rerun`,
      headers: auth(alice.token),
    });
    expect(early.statusCode).toBe(409);
    expect(early.json().code).toBe('TEST_NOT_FINISHED');

    await api.startWorker();
    const first = await completed(alice.token, testId);
    const notYours = await api.app.inject({
      method: 'POST',
      url: `/api/test/${testId}/rerun`,
      headers: auth(bob.token),
    });
    expect(notYours.statusCode).toBe(404);

    const res = await api.app.inject({
      method: 'POST',
      url: `/api/test/${testId}/rerun`,
      headers: auth(alice.token),
    });
    expect(res.statusCode).toBe(202);
    const again = res.json();
    expect(Object.keys(again).sort()).toEqual(['etaSeconds', 'queuePosition', 'rerunOf', 'status', 'testId']);
    expect(again.testId).not.toBe(testId);
    expect(again.rerunOf).toBe(testId);
    expect(again.status).toBe('queued');

    const second = await completed(alice.token, again.testId);
    expect(second).toMatchObject({
      testType: 'performance',
      url: site.url,
      name: 'home',
      priority: 7,
      config: { iterations: 1 },
      rerunOf: testId,
      reruns: [],
    });
    // The original is untouched, and now lists its re-run (its cached detail was dropped).
    const original = await detail(alice.token, testId);
    expect(original).toMatchObject({ status: 'completed', rerunOf: null, reruns: [again.testId] });
    expect(original.result).toEqual(first.result);
    expect(original.completedAt).toBe(first.completedAt);
  });

  it('reads a test at /api/tests/:testId as at its queue job path', async () => {
    const site = await target();
    const { testId } = await submitOk(alice.token, { testType: 'seo', url: site.url });
    const alias = await api.app.inject({
      method: 'GET',
      url: `/api/tests/${testId}`,
      headers: auth(alice.token),
    });
    expect(alias.statusCode).toBe(200);
    expect(alias.json()).toEqual(await detail(alice.token, testId));
    const bob = await register(api, 'bob@example.com');
    const other = await api.app.inject({
      method: 'GET',
      url: `/api/tests/${testId}`,
      headers: auth(bob.token),
    });
    expect(other.statusCode).toBe(404);
  });
});

describe('a lost worker', () => {
  it('is announced as queue:job:failed (willRetry, worker-lost, attempt 2 of 3) before the next attempt starts', async () => {
    const site = await target();
    const { testId } = await submitOk(alice.token, {
      testType: 'performance',
      url: site.url,
      config: { iterations: 1 },
    });
    // A dispatcher released the test (its job added), a worker started it and died with it:
    // the row says running, its attempt never closed.
    const [row] = await new TestDispatchRepository(api.db.kysely).claim([testId]);
    await api.queue.add(
      row!.test_type,
      testJobData(row!),
      testJobOptions(row!.test_type, row!.test_id, row!.run, row!.priority),
    );
    const attempts = new TestAttemptsRepository(api.db.kysely);
    const [dead] = await attempts.startAttempts([{ testId, run: 0 }]);
    expect(dead).toMatchObject({ attempt: 1, lost_previous: false });

    await api.startWorker();
    const done = await completed(alice.token, testId);
    expect(done.retryCount).toBe(1);
    expect(done.attempts.map((a: { status: string }) => a.status)).toEqual(['lost', 'completed']);
    const messages = (await api.eventLog.recover(`job-status-${testId}`, 0)).messages;
    expect(messages.map((m) => m.event)).toEqual([
      'queue:job:added',
      'queue:job:failed',
      'queue:job:started',
      'queue:job:progress',
      'queue:job:completed',
    ]);
    expect(messages[1]!.data).toEqual({
      jobId: testId,
      testId,
      status: 'queued',
      error: 'the worker running this test was lost',
      reason: 'worker-lost',
      willRetry: true,
      retryCount: 1,
      attempt: 2,
      maxAttempts: 3,
    });
  });
});

describe('the ETA of a running test', () => {
  it('is "stalled" once nothing was written for the lock duration, never ~0 s', async () => {
    const site = await target();
    const { testId } = await submitOk(alice.token, {
      testType: 'stress',
      url: site.url,
      config: { durationSec: 60 },
    });
    // A worker started it 20 s ago and wrote its last progress then: a 60-s test has 40 s left.
    const attempts = new TestAttemptsRepository(api.db.kysely);
    await attempts.startAttempts([{ testId, run: 0 }]);
    // The row's trigger stamps updated_at on every write: set aside to backdate it, as time would.
    const backdate = (startedSec: number, writtenSec: number) =>
      api.db.kysely.transaction().execute(async (trx) => {
        await sql`SET LOCAL session_replication_role = replica`.execute(trx);
        await sql`UPDATE test_queue SET started_at = now() - ${startedSec} * interval '1 second',
              updated_at = now() - ${writtenSec} * interval '1 second' WHERE test_id = ${testId}`.execute(
          trx,
        );
      });
    await backdate(20, 20);
    const running = await detail(alice.token, testId);
    expect(running).toMatchObject({ status: 'running', stalled: false });
    expect([39, 40]).toContain(running.etaSeconds);
    // Its worker died: 31 s without a write, past the 30-s lock.
    await backdate(51, 31);
    expect(await detail(alice.token, testId)).toMatchObject({
      status: 'running',
      etaSeconds: null,
      stalled: true,
    });
  });
});
