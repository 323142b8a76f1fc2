import { validate } from '@readme/openapi-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCatalog } from '@crucible/contracts';
import { ApiRoutes, TestDetail } from '@crucible/contracts/api';
import packageJson from '../package.json' with { type: 'json' };
import { SECRET, startApi } from './helpers.js';

/** The operator-facing surface of the API: its OpenAPI document and the queue board. */

let api: Awaited<ReturnType<typeof startApi>>;
let adminToken: string;
let userToken: string;

async function register(email: string): Promise<string> {
  const res = await api.app.inject({
    method: 'POST',
    url: '/api/auth/register',
    payload: { email, password: 'a long enough password' },
  });
  expect(res.statusCode).toBe(201);
  return res.json().token as string;
}

beforeAll(async () => {
  api = await startApi({ queueBoard: { secret: SECRET } });
  adminToken = await register('admin@example.com');
  userToken = await register('user@example.com');
});

afterAll(async () => {
  await api?.close();
});

describe('GET /api/meta', () => {
  it('tells anyone the version and the gateway: its own /ws unless PUBLIC_WS_URL says otherwise', async () => {
    const res = await api.app.inject({ method: 'GET', url: '/api/meta' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ version: packageJson.version, wsUrl: '/ws' });

    const elsewhere = await startApi({ publicWsUrl: 'wss://live.crucible.example/ws' });
    try {
      const told = await elsewhere.app.inject({ method: 'GET', url: '/api/meta' });
      expect(told.json()).toEqual({ version: packageJson.version, wsUrl: 'wss://live.crucible.example/ws' });
    } finally {
      await elsewhere.close();
    }
  });
});

describe('OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document listing every route of the route table', async () => {
    const res = await api.app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode, res.body).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(doc));
    expect(result).toMatchObject({ valid: true, specification: 'OpenAPI', warnings: [] });
    // The same parser does refuse a document the specification does not allow.
    const broken = { ...structuredClone(doc), paths: { '/x': { get: { responses: 'none' } } } };
    expect((await validate(broken)).valid).toBe(false);

    for (const [name, route] of Object.entries(ApiRoutes)) {
      const path = route.url.replace(/:(\w+)/g, '{$1}');
      const operation = doc.paths[path]?.[route.method.toLowerCase()];
      expect(operation, `${route.method} ${route.url}`).toBeDefined();
      expect(operation.operationId).toBe(name);
    }
    expect(doc.paths['/api/test/run'].post.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/api/auth/login'].post.security).toBeUndefined();
    expect(doc.paths['/api/meta'].get.security).toBeUndefined();
    expect(doc.paths['/api/shared/{shareId}'].get.security).toBeUndefined();
    // A submission is one object per test type, told apart by `testType`, with that type's config.
    const body = doc.paths['/api/test/run'].post.requestBody.content['application/json'].schema;
    expect(body.discriminator).toEqual({ propertyName: 'testType' });
    expect(
      body.oneOf.map((b: { properties: { testType: { enum: string[] } }; required: string[] }) => [
        b.properties.testType.enum,
        b.required,
      ]),
    ).toEqual(
      ['performance', 'stress', 'api', 'seo', 'security', 'browser'].map((t) => [[t], ['testType', 'url']]),
    );
    expect(Object.keys(body.oneOf[1].properties.config.properties)).toEqual(
      Object.keys(TestCatalog.stress.configSchema.properties),
    );
    expect(Object.keys(doc.paths['/health/ready'])).toEqual(['get']);
    expect(Object.keys(doc.paths).filter((p) => !/^\/(api|health)\/|^\/metrics$/.test(p))).toEqual([]);
  });

  it("types a test's result by its testType: one branch per catalogue type with that type's result schema", async () => {
    const doc = (await api.app.inject({ method: 'GET', url: '/docs/json' })).json();
    const types = ['performance', 'stress', 'api', 'seo', 'security', 'browser'] as const;
    const ok = (path: string) => doc.paths[path].get.responses['200'].content['application/json'].schema;
    const shown = {
      '/api/tests/{testId}': ok('/api/tests/{testId}'),
      '/api/test/queue/jobs/{jobId}': ok('/api/test/queue/jobs/{jobId}'),
      '/api/test/queue/jobs (items)': ok('/api/test/queue/jobs').properties.items.items,
    };
    for (const [where, schema] of Object.entries(shown)) {
      expect(schema.discriminator, where).toEqual({ propertyName: 'testType' });
      expect(
        schema.oneOf.map((b: { properties: { testType: unknown } }) => b.properties.testType),
        where,
      ).toEqual(types.map((t) => ({ type: 'string', enum: [t] })));
      for (const [i, type] of types.entries()) {
        const branch = schema.oneOf[i];
        expect(branch.required, `${where} ${type}`).toContain('result');
        const [result, none] = branch.properties.result.anyOf;
        expect(none).toEqual({ type: 'null' });
        // The engine's result as the catalogue has it, every field named (not `{}`).
        expect(result.additionalProperties).toBe(false);
        expect(Object.keys(result.properties), `${where} ${type}`).toEqual(
          Object.keys(TestCatalog[type].resultSchema.properties),
        );
        expect(result.required).toEqual(TestCatalog[type].resultSchema.required);
        // The config it ran with, as the catalogue has it (not a free object).
        expect(Object.keys(branch.properties.config.properties ?? {}), `${where} ${type} config`).toEqual(
          Object.keys(TestCatalog[type].configSchema.properties),
        );
      }
    }
    const stress = shown['/api/tests/{testId}'].oneOf[1].properties.result.anyOf[0];
    // Stress's config thresholds are stored judged in the one threshold language (issue 21).
    expect(Object.keys(stress.properties.thresholds.items.properties)).toEqual([
      'expression',
      'metric',
      'op',
      'limit',
      'actual',
      'passed',
    ]);
    expect(
      stress.properties.thresholds.items.properties.op.anyOf
        .flatMap((o: { enum: string[] }) => o.enum)
        .sort(),
    ).toEqual(['!=', '<', '<=', '==', '>', '>=']);
    expect(Object.keys(stress.properties.metrics.properties)).toEqual(
      expect.arrayContaining([
        'latency.p50',
        'latency.p95',
        'latency.p99',
        'rps',
        'errors.rate',
        'requests.total',
      ]),
    );
    // Every other field of the test is documented as before.
    expect(Object.keys(shown['/api/tests/{testId}'].oneOf[0].properties)).toEqual(
      Object.keys(TestDetail.properties),
    );
  });

  it('serves Swagger UI at /docs', async () => {
    const res = await api.app.inject({ method: 'GET', url: '/docs/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.body).toContain('swagger-ui');
  });
});

describe('queue board', () => {
  const board = '/admin/queues';

  async function session(token?: string) {
    return api.app.inject({
      method: 'POST',
      url: ApiRoutes.openQueueBoard.url,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  }

  it('stays shut without an admin session', async () => {
    const html = await api.app.inject({ method: 'GET', url: board, headers: { accept: 'text/html' } });
    expect(html.statusCode).toBe(303);
    expect(html.headers.location).toBe(`${board}/login`);
    const json = await api.app.inject({ method: 'GET', url: `${board}/api/queues` });
    expect(json.statusCode).toBe(401);
    expect(json.headers['content-type']).toMatch(/application\/problem\+json/);

    expect((await session()).statusCode).toBe(401);
    expect((await session(userToken)).statusCode).toBe(403);
    // A forged or tampered cookie is refused like none.
    const forged = await api.app.inject({
      method: 'GET',
      url: `${board}/api/queues`,
      cookies: { crucible_queue_board: 'x.9999999999999' },
    });
    expect(forged.statusCode).toBe(401);
  });

  it("opens to an admin's short-lived, HttpOnly, same-site cookie and shows the tests queue", async () => {
    const opened = await session(adminToken);
    expect(opened.statusCode).toBe(204);
    const cookie = opened.cookies.find((c) => c.name === 'crucible_queue_board')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: board, maxAge: 900 });

    const page = await api.app.inject({
      method: 'GET',
      url: board,
      headers: { accept: 'text/html' },
      cookies: { crucible_queue_board: cookie.value },
    });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Crucible queue');

    const queues = await api.app.inject({
      method: 'GET',
      url: `${board}/api/queues`,
      cookies: { crucible_queue_board: cookie.value },
    });
    expect(queues.statusCode).toBe(200);
    expect(queues.json().queues.map((q: { name: string }) => q.name)).toEqual(['tests', 'browser']);

    // Another signature (a different secret, or an edited value) is not accepted.
    const [value, signature] = cookie.value.split(/\.(?=[^.]+$)/);
    const tampered = await api.app.inject({
      method: 'GET',
      url: `${board}/api/queues`,
      cookies: {
        crucible_queue_board: `${value!.replace(/\d$/, (d) => String((Number(d) + 1) % 10))}.${signature}`,
      },
    });
    expect(tampered.statusCode).toBe(401);
  });

  it('closes when the admin is no longer one', async () => {
    const opened = await session(adminToken);
    const value = opened.cookies.find((c) => c.name === 'crucible_queue_board')!.value;
    await api.db.kysely
      .updateTable('users')
      .set({ role: 'user' })
      .where('email', '=', 'admin@example.com')
      .execute();
    const res = await api.app.inject({
      method: 'GET',
      url: `${board}/api/queues`,
      cookies: { crucible_queue_board: value },
    });
    expect(res.statusCode).toBe(401);
  });

  it('serves the login page that obtains the cookie', async () => {
    const res = await api.app.inject({ method: 'GET', url: `${board}/login` });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain(ApiRoutes.openQueueBoard.url);
  });
});
