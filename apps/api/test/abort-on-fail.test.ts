import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricNames } from '@crucible/contracts';
import { auth, register, startApi, startTarget } from './helpers.js';
import type { Api } from './helpers.js';

/**
 * Issue 26's abortOnFail (k6's): a stress threshold submitted as `{expression, abortOnFail}` stops
 * the test when it fails live; the API refuses it where nothing is judged live.
 */
let api: Api;
let alice: { token: string; id: string };
let site: Awaited<ReturnType<typeof startTarget>>;

beforeAll(async () => {
  api = await startApi();
  await register(api, `admin-${randomUUID()}@example.com`);
  alice = await register(api, `alice-${randomUUID()}@example.com`);
  // 200 to the first 200 requests, 500 after.
  site = await startTarget((_req, res, n) => {
    res.writeHead(n <= 200 ? 200 : 500);
    res.end('x');
  });
}, 30_000);

afterAll(async () => {
  await api?.close();
  await site?.close();
});

const submit = (payload: Record<string, unknown>) =>
  api.app.inject({ method: 'POST', url: '/api/test/run', headers: auth(alice.token), payload });

async function detail(testId: string) {
  const res = await api.app.inject({
    method: 'GET',
    url: `/api/test/queue/jobs/${testId}`,
    headers: auth(alice.token),
  });
  return res.json();
}

describe('abortOnFail', () => {
  it('stops a stress test on the breach: completed, failed, the result naming the threshold', async () => {
    const res = await submit({
      testType: 'stress',
      url: site.url,
      config: { connections: 2, durationSec: 30, rate: 300 },
      thresholds: ['latency.p95 < 60000', { expression: 'errors.rate < 0.05', abortOnFail: true }],
    });
    expect(res.statusCode, res.body).toBe(202);
    const id = res.json().testId as string;
    const worker = await api.startWorker();
    await expect
      .poll(async () => (await detail(id)).status, { timeout: 30_000, interval: 200 })
      .toBe('completed');
    const test = await detail(id);
    expect(test.thresholds).toEqual(['latency.p95 < 60000', 'errors.rate < 0.05']);
    expect(test.result.aborted).toMatchObject({ threshold: 'errors.rate < 0.05' });
    expect(test.result.totals.durationSec).toBeLessThan(10);
    expect(
      test.result.thresholds.map((t: { expression: string; passed: boolean }) => [t.expression, t.passed]),
    ).toEqual([
      ['latency.p95 < 60000', true],
      ['errors.rate < 0.05', false],
    ]);
    expect(test.verdict).toBe('failed');
    await worker.close();
  }, 60_000);

  it.each([
    [
      'on a type judged only at the end',
      { testType: 'performance', thresholds: [{ expression: 'ttfb.median < 500', abortOnFail: true }] },
      'ttfb.median < 500',
      'abortOnFail needs a metric judged live while the test runs; only stress tests have them',
      'performance',
    ],
    [
      'with a delayAbortEval that is no duration',
      {
        testType: 'stress',
        config: { connections: 1, durationSec: 1 },
        thresholds: [{ expression: 'rps > 10', abortOnFail: true, delayAbortEval: 'soon' }],
      },
      'rps > 10',
      'delayAbortEval "soon" is not a duration like "5s", "500ms" or "1m"',
      'stress',
    ],
    [
      'on a metric stress tests do not have',
      {
        testType: 'stress',
        config: { connections: 1, durationSec: 1 },
        thresholds: [{ expression: 'score > 1', abortOnFail: true }],
      },
      'score > 1',
      'stress tests have no metric "score"',
      'stress',
    ],
  ] as const)(
    'is refused %s, as a problem naming the threshold',
    async (_what, body, expression, reason, type) => {
      const res = await submit({ url: site.url, ...body });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = res.json();
      expect(problem).toMatchObject({ code: 'INVALID_THRESHOLD', expression, metrics: metricNames(type) });
      expect(problem.detail).toContain(reason);
    },
  );

  it('stores the delay in seconds beside the expressions', async () => {
    const res = await submit({
      testType: 'stress',
      url: site.url,
      config: { connections: 1, durationSec: 1 },
      thresholds: [
        { expression: 'latency.p99 < 500', abortOnFail: true, delayAbortEval: '1500ms' },
        'rps > 1',
      ],
    });
    expect(res.statusCode, res.body).toBe(202);
    const row = await api.db.kysely
      .selectFrom('test_queue')
      .select('judging')
      .where('test_id', '=', res.json().testId as string)
      .executeTakeFirstOrThrow();
    expect(row.judging).toEqual({
      thresholds: ['latency.p99 < 500', 'rps > 1'],
      abortOnFail: [{ expression: 'latency.p99 < 500', delayAbortEvalSec: 1.5 }],
    });
  });
});
