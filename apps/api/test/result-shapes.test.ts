import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCatalog } from '@crucible/contracts';
import type {
  ApiResult,
  PerformanceResult,
  SecurityResult,
  SeoResult,
  StressResult,
  TestType,
} from '@crucible/contracts';
import { auth, register, startApi, startTarget } from './helpers.js';
import type { Api } from './helpers.js';

/**
 * What each engine stores as a test's result is what the API answers, field for field, and what
 * the catalogue's result schema (the OpenAPI document's) says it is (issue 17, item 18). Every
 * type runs for real against local targets built to reach the optional parts of its result: a
 * failed request, a resource or link that cannot be fetched, a step that cannot be sent, TLS.
 */
let api: Api;
let token: string;
const closers: (() => Promise<void>)[] = [];

/** A port nothing listens on: links and resources there fail with a transport error. */
async function deadPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function page(dead: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Crucible result fixture</title>
<meta name="description" content="A page with a bit of everything the engines look at, for the result schema tests.">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/style.css"><script src="/app.js"></script>
<script type="application/ld+json">{"@context":"https://schema.org","@type":"WebSite","name":"Fixture"}</script>
</head><body><h1>Fixture</h1><p>${'Words about the fixture. '.repeat(40)}</p>
<img src="/logo.png" alt="logo"><img src="/missing.png"><img src="${dead}/gone.png" alt="gone">
<a href="/about">About</a> <a href="/missing">Missing</a> <a href="${dead}/" rel="nofollow">Dead</a>
</body></html>`;
}

function site(dead: string) {
  const html = page(dead);
  const seen = new Map<string, number>();
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url!, 'http://x').pathname;
    const n = (seen.get(path) ?? 0) + 1;
    seen.set(path, n);
    const send = (status: number, type: string, body: string | Buffer, headers = {}) => {
      res.writeHead(status, { 'content-type': type, ...headers });
      res.end(body);
    };
    switch (path) {
      case '/':
      case '/perf': {
        // Every second request of /perf is cut off: a failed iteration among successful ones.
        if (path === '/perf' && n % 2 === 0) {
          req.socket.destroy();
          return;
        }
        const gzip = /gzip/.test(String(req.headers['accept-encoding']));
        return send(200, 'text/html; charset=utf-8', gzip ? gzipSync(html) : html, {
          ...(gzip ? { 'content-encoding': 'gzip' } : {}),
          'set-cookie': 'session=abc; Path=/',
          server: 'fixture/1.2',
        });
      }
      case '/style.css':
        return send(200, 'text/css', '@font-face{font-family:F;src:url(/font.woff2)}body{font-family:F}');
      case '/app.js':
        return send(200, 'text/javascript', 'console.log(1)');
      case '/logo.png':
      case '/font.woff2':
        return send(200, 'application/octet-stream', Buffer.alloc(1500, 7));
      case '/about':
        return send(200, 'text/html', '<!doctype html><title>About</title>');
      case '/robots.txt':
        return send(200, 'text/plain', 'User-agent: *\nAllow: /\nSitemap: /sitemap.xml\n');
      case '/sitemap.xml':
        return send(
          200,
          'application/xml',
          '<?xml version="1.0"?><urlset><url><loc>/</loc></url><url><loc>/about</loc></url></urlset>',
        );
      case '/api/login':
        return send(200, 'application/json', JSON.stringify({ token: 't-1', user: { name: 'Ada' } }));
      case '/api/me':
        return req.headers.authorization === 'Bearer t-1'
          ? send(200, 'application/json', JSON.stringify({ name: 'Ada', roles: ['admin'], age: 36.5 }))
          : send(401, 'application/json', '{"error":"who are you?"}');
      case '/load':
        // One answer in five is an error, so the stress result has HTTP errors to count.
        return n % 5 === 0 ? send(503, 'text/plain', 'busy') : send(200, 'text/plain', 'ok');
      default:
        return send(404, 'text/plain', 'not found');
    }
  };
}

/** An https site (the certificate names 127.0.0.1, self-signed) with something for every security check. */
async function tlsSite(dead: string) {
  const fixtures = new URL('../../worker/test/fixtures/', import.meta.url);
  const server = createHttpsServer(
    {
      cert: readFileSync(new URL('self-signed.crt', fixtures)),
      key: readFileSync(new URL('self-signed.key', fixtures)),
    },
    (req, res) => {
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { allow: 'GET, PUT, DELETE, OPTIONS' });
        return res.end();
      }
      if (req.method === 'TRACE') {
        res.writeHead(200, { 'content-type': 'message/http' });
        return res.end(`TRACE ${req.url} HTTP/1.1\r\n`);
      }
      res.writeHead(200, {
        'content-type': 'text/html',
        'strict-transport-security': 'max-age=600',
        'set-cookie': ['sid=1; Secure', 'pref=dark; HttpOnly; SameSite=None'],
        'access-control-allow-origin': String(req.headers.origin ?? '*'),
        'access-control-allow-credentials': 'true',
        'x-powered-by': 'PHP/8.1',
      });
      res.end(
        `<!doctype html><title>tls</title><script src="${dead}/x.js"></script><img src="${dead}/i.png">`,
      );
    },
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

const tests: { testType: TestType; testId: string }[] = [];

beforeAll(async () => {
  api = await startApi();
  ({ token } = await register(api, 'alice@example.com'));
  const dead = `http://127.0.0.1:${await deadPort()}`;
  const target = await startTarget(site(dead));
  closers.push(() => target.close());
  const secure = await tlsSite(dead);

  const submissions = [
    { testType: 'performance', url: `${target.url}perf`, config: { iterations: 3 } },
    {
      testType: 'stress',
      url: `${target.url}load`,
      config: { connections: 2, durationSec: 1, thresholds: { p95Ms: 60_000, errorRatePct: 1, minRps: 1 } },
    },
    {
      testType: 'api',
      url: target.url,
      config: {
        steps: [
          {
            name: 'sign in',
            method: 'POST',
            path: '/api/login',
            body: { user: 'ada' },
            capture: { token: '$.token', user: '$.user' },
            assert: { status: 200 },
          },
          {
            name: 'who am I',
            path: '/api/me',
            headers: { Authorization: 'Bearer {{token}}' },
            assert: {
              status: 200,
              headers: { 'content-type': 'json' },
              json: [
                { path: '$.name', equals: 'Ada' },
                { path: '$.roles', equals: ['admin'] },
                { path: '$.missing', equals: 1 },
              ],
              bodyContains: 'admin',
              maxTimeMs: 10_000,
            },
          },
          { name: 'unknown variable', path: '/api/me?who={{nobody}}' },
        ],
      },
    },
    { testType: 'seo', url: target.url, config: { checkLinks: 10 } },
    { testType: 'security', url: secure },
  ];
  for (const payload of submissions) {
    const res = await api.app.inject({ method: 'POST', url: '/api/test/run', headers: auth(token), payload });
    expect(res.statusCode, res.body).toBe(202);
    tests.push({ testType: payload.testType as TestType, testId: res.json().testId });
  }
  await api.startWorker();
  const deadline = Date.now() + 30_000;
  for (const { testType, testId } of tests) {
    while (!/completed|failed|cancelled/.test((await get(`/api/tests/${testId}`)).status)) {
      if (Date.now() > deadline) throw new Error(`the ${testType} test did not finish in 30 s`);
      await sleep(100);
    }
  }
}, 60_000);

afterAll(async () => {
  await api?.close();
  for (const close of closers.splice(0)) await close();
});

async function get(url: string) {
  const res = await api.app.inject({ method: 'GET', url, headers: auth(token) });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

async function stored(testId: string): Promise<unknown> {
  const row = await api.db.kysely
    .selectFrom('test_queue')
    .select('result')
    .where('test_id', '=', testId)
    .executeTakeFirstOrThrow();
  return row.result;
}

const resultOf = (type: TestType) => tests.find((t) => t.testType === type)!;

describe('a completed test of each type', () => {
  it.each(['performance', 'stress', 'api', 'seo', 'security'] as const)(
    '%s: the API answers the stored result whole, and it matches the catalogue schema',
    async (type) => {
      const { testId } = resultOf(type);
      const detail = await get(`/api/tests/${testId}`);
      expect({ status: detail.status, errorMessage: detail.errorMessage }).toEqual({
        status: 'completed',
        errorMessage: null,
      });
      const result = await stored(testId);
      expect(result).not.toBeNull();
      // Nothing dropped or coerced, read fresh, from the response cache, at either path and in a list.
      expect(detail.result).toStrictEqual(result);
      expect((await get(`/api/tests/${testId}`)).result).toStrictEqual(result);
      expect((await get(`/api/test/queue/jobs/${testId}`)).result).toStrictEqual(result);
      const list = await get(`/api/test/queue/jobs?testType=${type}`);
      expect(list.items.map((i: { testId: string; result: unknown }) => [i.testId, i.result])).toStrictEqual([
        [testId, result],
      ]);

      const schema = TestCatalog[type].resultSchema;
      expect([...Value.Errors(schema, result)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
      // The config the API answers is the one the document shows for this type.
      const config = TestCatalog[type].configSchema;
      expect([...Value.Errors(config, detail.config)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
    },
  );

  it('reached the optional parts of each result, so the schema checks above had them to check', async () => {
    const performance = (await stored(resultOf('performance').testId)) as PerformanceResult;
    expect(performance.iterations.map((i) => i.ok)).toEqual([true, false, true]);
    expect(performance.contentEncoding).toBe('gzip');
    expect(performance.resources.items.map((r) => [r.kind, r.status, r.error !== undefined])).toEqual(
      expect.arrayContaining([
        ['stylesheet', 200, false],
        ['script', 200, false],
        ['image', 404, false],
        ['image', null, true],
        ['font', 200, false],
      ]),
    );

    const stress = (await stored(resultOf('stress').testId)) as StressResult;
    expect(Object.keys(stress.statusCodes).sort()).toEqual(['200', '503']);
    // Its config thresholds, stored in the threshold language (issue 21).
    expect((stress.thresholds as unknown as { expression: string }[]).map((t) => t.expression)).toEqual([
      'latency.p95 <= 60000',
      'errors.rate <= 0.01',
      'rps >= 1',
    ]);
    expect(stress.series.length).toBeGreaterThan(0);

    const apiResult = (await stored(resultOf('api').testId)) as ApiResult;
    expect(apiResult.steps.map((s) => [s.passed, s.error])).toEqual([
      [true, undefined],
      [false, undefined],
      [false, 'variable {{nobody}} is not defined by an earlier step'],
    ]);
    expect(apiResult.steps[0]!.captured).toEqual({ token: 't-1', user: { name: 'Ada' } });
    expect(apiResult.steps[1]!.assertions).toContainEqual({
      check: 'json:$.missing',
      expected: 1,
      actual: null,
      passed: false,
    });

    const seo = (await stored(resultOf('seo').testId)) as SeoResult;
    expect(seo.links.broken.map((b) => [b.status, b.error !== undefined])).toEqual([
      [404, false],
      [null, true],
    ]);
    expect(seo.checks.some((c) => c.value !== undefined)).toBe(true);

    const security = (await stored(resultOf('security').testId)) as SecurityResult;
    expect(security.tls?.certificate?.subjectAltName).toContain('127.0.0.1');
    expect(security.findings.map((f) => f.category)).toEqual(
      expect.arrayContaining(['tls', 'cookies', 'cors', 'methods', 'mixed-content', 'disclosure']),
    );
  });

  it('stores every catalogue metric of the type beside the result, read from it', async () => {
    const metrics = async (type: TestType) =>
      ((await stored(resultOf(type).testId)) as { metrics: Record<string, { value: number | null }> })
        .metrics;
    const values = async (type: TestType) =>
      Object.fromEntries(Object.entries(await metrics(type)).map(([k, v]) => [k, v.value]));
    // Every type this suite runs; the browser type's (a real Chromium) are checked by the worker's browser suite.
    for (const type of tests.map((t) => t.testType)) {
      // jsonb keeps keys in its own order.
      expect(Object.keys(await metrics(type)).sort()).toEqual(
        TestCatalog[type].metrics.map((m) => m.name).sort(),
      );
    }
    const performance = (await stored(resultOf('performance').testId)) as PerformanceResult;
    expect((await metrics('performance'))['errors.count']).toEqual({ value: 1, unit: 'count' });
    expect((await values('performance'))['ttfb.median']).toBe(performance.summary.ttfb.median);
    const stress = (await stored(resultOf('stress').testId)) as StressResult;
    expect(await values('stress')).toMatchObject({
      'requests.total': stress.totals.requests,
      rps: stress.totals.rps,
      'errors.rate': stress.errorRatePct / 100,
      'latency.p95': stress.latency!.p95,
    });
    const apiResult = (await stored(resultOf('api').testId)) as ApiResult;
    expect(await values('api')).toMatchObject({
      // The failed assertions plus the step that could not be sent.
      'checks.failed': apiResult.totals.assertionsFailed + 1,
      'checks.passed': apiResult.totals.assertions - apiResult.totals.assertionsFailed,
    });
    const seo = (await stored(resultOf('seo').testId)) as SeoResult;
    expect(await values('seo')).toEqual({
      score: seo.score,
      'issues.error': seo.counts.fail,
      'issues.warning': seo.counts.warn,
    });
    const security = (await stored(resultOf('security').testId)) as SecurityResult;
    expect(await values('security')).toEqual({
      score: security.score,
      'findings.critical': 0,
      'findings.high': security.counts.high,
      'findings.medium': security.counts.medium,
      'findings.low': security.counts.low,
    });
  });

  it('lists each type with its config schema and metric catalogue at GET /api/test/types', async () => {
    const res = await api.app.inject({ method: 'GET', url: '/api/test/types', headers: auth(token) });
    expect(res.statusCode, res.body).toBe(200);
    const { types } = res.json() as {
      types: { type: TestType; configSchema: { properties: object }; metrics: { name: string }[] }[];
    };
    expect(types.map((t) => t.type)).toEqual(['performance', 'stress', 'api', 'seo', 'security', 'browser']);
    const stress = types.find((t) => t.type === 'stress')!;
    expect(Object.keys(stress.configSchema.properties)).toContain('durationSec');
    expect(stress.metrics).toContainEqual({
      name: 'latency.p95',
      unit: 'ms',
      description: 'Response time, 95th percentile',
      better: 'lower',
    });
    expect(types.find((t) => t.type === 'performance')!.metrics.map((m) => m.name)).toEqual(
      expect.arrayContaining(['ttfb.median', 'total.median', 'dns.median', 'connect.median', 'errors.count']),
    );
  });
});
