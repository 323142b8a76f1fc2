import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auth, register, startApi } from './helpers.js';
import type { Api } from './helpers.js';

/** Issue 18, "Deeply nested JSON answers 500": nesting is bounded before a body is parsed. */
let api: Api;
let token: string;

beforeEach(async () => {
  api = await startApi();
  ({ token } = await register(api, 'alice@example.com'));
});

afterEach(async () => {
  await api.close();
});

/** An api test whose one step sends a body nested `depth` arrays deep. */
function apiTestWithBody(depth: number): string {
  const body = `${'['.repeat(depth)}1${']'.repeat(depth)}`;
  return `{"testType":"api","url":"http://127.0.0.1:8080/","config":{"steps":[{"name":"deep","body":${body}}]}}`;
}

describe('JSON nesting depth', () => {
  it('refuses a body nested ~3,000 deep with 400 naming the limit, not a 500', async () => {
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/test/run',
      headers: { ...auth(token), 'content-type': 'application/json' },
      payload: apiTestWithBody(3_000),
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toEqual({
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      code: 'JSON_TOO_DEEP',
      detail: 'the JSON body nests arrays and objects deeper than 64 levels',
    });
  });

  it('accepts a body nested exactly 64 levels deep', async () => {
    // The request's own levels: the body object, config, steps and the step hold 60 more.
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/test/run',
      headers: { ...auth(token), 'content-type': 'application/json; charset=utf-8' },
      payload: apiTestWithBody(60),
    });
    expect(res.statusCode, res.body).toBe(202);
  });
});
