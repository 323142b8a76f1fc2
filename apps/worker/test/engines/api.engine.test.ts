import { afterEach, describe, expect, it } from 'vitest';
import { runApi } from '../../src/engines/api.engine.js';
import { closeServers, listen, recorder } from './fixtures.js';
import type { Fixture } from './fixtures.js';

afterEach(closeServers);

async function jsonApi(): Promise<Fixture & { bodies: unknown[] }> {
  const bodies: unknown[] = [];
  const fixture = await listen((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      if (raw) bodies.push(JSON.parse(raw));
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      };
      if (req.method === 'POST' && req.url === '/login') {
        const { user } = JSON.parse(raw) as { user: string };
        return send(200, { token: `tok-${user}`, user: { id: 7, roles: ['admin'] } });
      }
      if (req.url === '/users/7') {
        if (req.headers.authorization !== 'Bearer tok-ada') return send(401, { error: 'unauthorised' });
        return send(200, { id: 7, name: 'Ada', tags: ['a', 'b'] }, { 'x-request-id': 'req-1' });
      }
      if (req.url === '/slow') return void setTimeout(() => send(200, { ok: true }), 400);
      if (req.url === '/fail') return send(500, { error: 'boom' });
      if (req.url === '/text') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end('plain words');
      }
      send(404, { error: 'not found' });
    });
  });
  return Object.assign(fixture, { bodies });
}

describe('runApi', () => {
  it('chains steps through captured variables and passes when every assertion holds', async () => {
    const api = await jsonApi();
    const rec = recorder();

    const result = await runApi(
      api.url,
      {
        steps: [
          {
            name: 'login',
            method: 'POST',
            path: '/login',
            body: { user: 'ada', password: 'secret' },
            capture: { token: '$.token', userId: '$.user.id' },
            assert: { status: 200, json: [{ path: '$.user.roles[0]', equals: 'admin' }] },
          },
          {
            name: 'profile',
            path: '/users/{{userId}}',
            headers: { Authorization: 'Bearer {{token}}' },
            assert: {
              status: 200,
              headers: { 'X-Request-Id': 'req-1', 'content-type': 'application/json' },
              json: [
                { path: '$.name', equals: 'Ada' },
                { path: '$.tags', equals: ['a', 'b'] },
              ],
              bodyContains: '"Ada"',
              maxTimeMs: 60_000,
            },
          },
        ],
      },
      rec.ctx(),
    );

    expect(result.passed).toBe(true);
    expect(result.totals).toEqual({ steps: 2, passed: 2, failed: 0, assertions: 9, assertionsFailed: 0 });
    expect(result.steps[0]).toMatchObject({
      method: 'POST',
      url: `${api.url}/login`,
      status: 200,
      captured: { token: 'tok-ada', userId: 7 },
    });
    expect(result.steps[1]!.url).toBe(`${api.url}/users/7`);
    expect(result.steps[1]!.assertions.map((a) => a.check)).toEqual([
      'status',
      'header:x-request-id',
      'header:content-type',
      'json:$.name',
      'json:$.tags',
      'bodyContains',
      'maxTimeMs',
    ]);
    expect(api.bodies).toEqual([{ user: 'ada', password: 'secret' }]);
    expect(api.hits).toEqual(['POST /login', 'GET /users/7']);
    expect(rec.calls.map((c) => [c.pct, c.data.name, c.data.passed])).toEqual([
      [50, 'login', true],
      [100, 'profile', true],
    ]);
  });

  it('fails the assertions that do not hold, says why, and goes on with the next steps', async () => {
    const api = await jsonApi();

    const result = await runApi(
      `${api.url}/`,
      {
        steps: [
          {
            name: 'failing',
            path: '/fail',
            assert: { status: 200, json: [{ path: '$.error', equals: 'none' }] },
          },
          { name: 'slow', path: '/slow', assert: { maxTimeMs: 100 } },
          { name: 'no json', path: '/text', capture: { id: '$.id' } },
          { name: 'missing var', path: '/users/{{nope}}' },
          { name: 'unauthorised', path: '/users/7', assert: { status: 200, bodyContains: 'Ada' } },
        ],
      },
      recorder().ctx(),
    );

    expect(result.passed).toBe(false);
    expect(result.steps.map((s) => [s.name, s.passed, s.status])).toEqual([
      ['failing', false, 500],
      ['slow', false, 200],
      ['no json', false, 200],
      ['missing var', false, null],
      ['unauthorised', false, 401],
    ]);
    expect(result.steps[0]!.assertions).toEqual([
      { check: 'status', expected: 200, actual: 500, passed: false },
      { check: 'json:$.error', expected: 'none', actual: 'boom', passed: false },
    ]);
    const slow = result.steps[1]!.assertions[0]!;
    expect([slow.check, slow.passed, (slow.actual as number) >= 400]).toEqual(['maxTimeMs', false, true]);
    expect(result.steps[2]!.error).toBe('cannot capture id: the body is not JSON');
    expect(result.steps[3]!.error).toBe('variable {{nope}} is not defined by an earlier step');
    expect(result.steps[4]!.assertions.map((a) => a.passed)).toEqual([false, false]);
    expect(result.totals).toEqual({ steps: 5, passed: 0, failed: 5, assertions: 5, assertionsFailed: 5 });
    // The step whose URL could not be built sent nothing.
    expect(api.hits).toEqual(['GET /fail', 'GET /slow', 'GET /text', 'GET /users/7']);
  });

  it('defaults to one GET expecting 200, and fails at once when a step aims at a private address', async () => {
    const api = await jsonApi();
    const single = await runApi(`${api.url}/users/7`, {}, recorder().ctx());
    expect(single.steps.map((s) => [s.name, s.status, s.passed])).toEqual([['GET', 401, false]]);

    await expect(
      runApi(
        api.url,
        { steps: [{ name: 'metadata', url: 'http://169.254.169.254/latest/' }] },
        recorder().ctx(),
      ),
    ).rejects.toMatchObject({
      code: 'TARGET_REFUSED',
      message: 'target refused: 169.254.169.254 is a linkLocal address',
    });
  });
});
