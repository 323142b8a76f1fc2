import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { TestArtifactsRepository } from '@crucible/db';
import { auth, register, startApi } from './helpers.js';
import type { Api } from './helpers.js';

/** Files kept beside a test (a browser test's screenshot), served to whoever may see the test. */
let api: Api;
let alice: { token: string; id: string };
let bob: { token: string; id: string };

beforeEach(async () => {
  api = await startApi();
  await register(api, 'admin@example.com');
  alice = await register(api, 'alice@example.com');
  bob = await register(api, 'bob@example.com');
});
afterEach(() => api.close());

// A 1×1 JPEG's first bytes are enough: the route sends what is stored, as stored.
const JPEG = Buffer.from([
  0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0xff, 0xd9,
]);

async function browserTest(token: string): Promise<string> {
  const res = await api.app.inject({
    method: 'POST',
    url: '/api/test/run',
    headers: auth(token),
    payload: { testType: 'browser', url: 'http://127.0.0.1:8080/', config: { runs: 1 } },
  });
  expect(res.statusCode, res.body).toBe(202);
  return (res.json() as { testId: string }).testId;
}

const get = (token: string, testId: string, name: string) =>
  api.app.inject({ method: 'GET', url: `/api/test/${testId}/artifacts/${name}`, headers: auth(token) });

describe('test artifacts', () => {
  it('gives the owner the screenshot with its content type, and anyone else a 404', async () => {
    const testId = await browserTest(alice.token);
    await new TestArtifactsRepository(api.db.kysely).put(testId, 'screenshot', 'image/jpeg', JPEG);
    const mine = await get(alice.token, testId, 'screenshot');
    expect(mine.statusCode).toBe(200);
    expect(mine.headers['content-type']).toBe('image/jpeg');
    expect(mine.rawPayload.equals(JPEG)).toBe(true);
    const theirs = await get(bob.token, testId, 'screenshot');
    expect(theirs.statusCode).toBe(404);
    expect(theirs.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await get(alice.token, testId, 'lighthouse.json')).statusCode).toBe(404);
    expect((await get(alice.token, testId, '..%2Fetc')).statusCode).toBe(400);
  });

  it('goes with its test', async () => {
    const testId = await browserTest(alice.token);
    const artifacts = new TestArtifactsRepository(api.db.kysely);
    await artifacts.put(testId, 'screenshot', 'image/jpeg', JPEG);
    await sql`DELETE FROM test_queue WHERE test_id = ${testId}`.execute(api.db.kysely);
    expect(await artifacts.get(testId, 'screenshot')).toBeUndefined();
  });
});
