import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
      detail: 'testType must be one of: performance, stress, api, seo, security ("load" is not one of them)',
    });
    const missing = await submit({ url: 'http://127.0.0.1:9/' });
    expect(missing.json().detail).toBe(
      'testType must be one of: performance, stress, api, seo, security (is missing)',
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
