import { createHmac } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAuthenticator } from '@crucible/runtime';
import { SessionsRepository } from '@crucible/db';
import { SECRET, auth, register, startApi } from './helpers.js';
import type { Api } from './helpers.js';

let api: Api;
let alice: Awaited<ReturnType<typeof register>>;
let bob: Awaited<ReturnType<typeof register>>;

beforeEach(async () => {
  api = await startApi();
  alice = await register(api, 'alice@example.com');
  bob = await register(api, 'bob@example.com');
});

afterEach(async () => {
  await api.close();
});

const me = (token: string) => api.app.inject({ method: 'GET', url: '/api/auth/me', headers: auth(token) });

async function login(email: string, userAgent: string): Promise<string> {
  const res = await api.app.inject({
    method: 'POST',
    url: '/api/auth/login',
    headers: { 'user-agent': userAgent },
    payload: { email, password: 'correct horse battery' },
  });
  expect(res.statusCode).toBe(200);
  return res.json().token as string;
}

/** A token signed with the deployment's secret carrying exactly these claims (HS256, as the api signs). */
function signed(claims: Record<string, unknown>): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const iat = Math.floor(Date.now() / 1000);
  const body = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ ...claims, iss: 'crucible', iat, exp: iat + 60 })}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

const sessionIdOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sid as string;

describe('sign-out', () => {
  it('ends the calling session: its token answers 401 from then on, other sessions go on', async () => {
    const laptop = await login('alice@example.com', 'laptop');
    expect((await me(alice.token)).statusCode).toBe(200);

    const out = await api.app.inject({ method: 'POST', url: '/api/auth/logout', headers: auth(alice.token) });
    expect(out.statusCode).toBe(204);
    const after = await me(alice.token);
    expect(after.statusCode).toBe(401);
    expect(after.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    const row = await api.db.kysely
      .selectFrom('sessions')
      .select('revoked_at')
      .where('id', '=', sessionIdOf(alice.token))
      .executeTakeFirstOrThrow();
    expect(row.revoked_at).toBeInstanceOf(Date);

    expect((await me(laptop)).json()).toEqual({ id: alice.id, email: 'alice@example.com', role: 'admin' });
    expect((await me(bob.token)).statusCode).toBe(200);
    // Signing out twice is signing out of nothing.
    const again = await api.app.inject({
      method: 'POST',
      url: '/api/auth/logout',
      headers: auth(alice.token),
    });
    expect(again.statusCode).toBe(401);
  });

  it('signs out everywhere: every session of the caller ends, nobody else’s', async () => {
    const laptop = await login('alice@example.com', 'laptop');
    const phone = await login('alice@example.com', 'phone');
    const out = await api.app.inject({ method: 'POST', url: '/api/auth/logout-all', headers: auth(phone) });
    expect(out.statusCode).toBe(204);
    for (const token of [alice.token, laptop, phone]) expect((await me(token)).statusCode).toBe(401);
    expect((await me(bob.token)).statusCode).toBe(200);
  });

  it('answers 400 problem+json to sign-out with an API key, which is not a session', async () => {
    const created = await api.app.inject({
      method: 'POST',
      url: '/api/auth/api-keys',
      headers: auth(alice.token),
      payload: { name: 'ci' },
    });
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/auth/logout',
      headers: auth(created.json().key),
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ code: 'NOT_A_SESSION', status: 400 });
  });

  it('refuses a well-signed token that names no session (issued before sessions existed)', async () => {
    // The very claims a session token carries are accepted: the refusals below are about the session.
    expect(
      (await me(signed({ sub: alice.id, role: 'user', sid: sessionIdOf(alice.token) }))).statusCode,
    ).toBe(200);
    expect((await me(signed({ sub: alice.id, role: 'user' }))).statusCode).toBe(401);
    // Nor one that names another user's session.
    expect((await me(signed({ sub: alice.id, role: 'user', sid: sessionIdOf(bob.token) }))).statusCode).toBe(
      401,
    );
  });
});

describe('the account page’s sessions', () => {
  it('lists the caller’s live sessions with device and last use, and ends one of them', async () => {
    const laptop = await login('alice@example.com', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0');
    const list = await api.app.inject({ method: 'GET', url: '/api/auth/sessions', headers: auth(laptop) });
    expect(list.statusCode).toBe(200);
    const sessions = list.json() as Array<Record<string, unknown>>;
    expect(sessions.map((s) => [s.id, s.userAgent, s.current]).sort()).toEqual(
      [
        [sessionIdOf(alice.token), 'lightMyRequest', false],
        [sessionIdOf(laptop), 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0', true],
      ].sort(),
    );
    for (const s of sessions) {
      expect(s).toEqual({
        id: expect.any(String),
        userAgent: expect.any(String),
        ip: '127.0.0.1',
        createdAt: expect.any(String),
        lastSeenAt: expect.any(String),
        expiresAt: expect.any(String),
        current: expect.any(Boolean),
      });
      // The absolute cap: seven days after sign-in.
      expect(Date.parse(s.expiresAt as string) - Date.parse(s.createdAt as string)).toBe(7 * 24 * 3600_000);
    }

    const bobEnds = await api.app.inject({
      method: 'DELETE',
      url: `/api/auth/sessions/${sessionIdOf(alice.token)}`,
      headers: auth(bob.token),
    });
    expect(bobEnds.statusCode).toBe(404);
    const ended = await api.app.inject({
      method: 'DELETE',
      url: `/api/auth/sessions/${sessionIdOf(alice.token)}`,
      headers: auth(laptop),
    });
    expect(ended.statusCode).toBe(204);
    expect((await me(alice.token)).statusCode).toBe(401);
    const left = await api.app.inject({ method: 'GET', url: '/api/auth/sessions', headers: auth(laptop) });
    expect(left.json().map((s: { id: string }) => s.id)).toEqual([sessionIdOf(laptop)]);
  });
});

describe('session lifetime', () => {
  const setLastSeen = (token: string, hoursAgo: number) =>
    api.db.kysely
      .updateTable('sessions')
      .set({ last_seen_at: sql`now() - make_interval(hours => ${hoursAgo})` })
      .where('id', '=', sessionIdOf(token))
      .execute();
  const lastSeen = async (token: string) =>
    (
      await api.db.kysely
        .selectFrom('sessions')
        .select('last_seen_at')
        .where('id', '=', sessionIdOf(token))
        .executeTakeFirstOrThrow()
    ).last_seen_at.getTime();

  it('ends a session unused for 12 hours, and moves the deadline of one that is used', async () => {
    await setLastSeen(alice.token, 13);
    expect((await me(alice.token)).statusCode).toBe(401);

    await setLastSeen(bob.token, 11);
    const before = await lastSeen(bob.token);
    expect((await me(bob.token)).statusCode).toBe(200);
    // Use is written off the request's path, shortly after.
    await vi.waitFor(async () => expect(await lastSeen(bob.token)).toBeGreaterThan(before + 10 * 3600_000), {
      timeout: 10_000,
      interval: 100,
    });
  });

  it('ends a session past its absolute cap however recently it was used', async () => {
    await api.db.kysely
      .updateTable('sessions')
      .set({ expires_at: sql`now() - interval '1 second'` })
      .where('id', '=', sessionIdOf(alice.token))
      .execute();
    expect((await me(alice.token)).statusCode).toBe(401);
  });

  it('is remembered by another process for the cache TTL only, and forgotten at once when told', async () => {
    let now = 1_000_000;
    const authenticate = createAuthenticator({
      apiKeys: { findUserByKeyHash: async () => undefined },
      sessions: new SessionsRepository(api.db.kysely),
      tokens: api.tokens,
      cacheTtlMs: 5_000,
      now: () => now,
    });
    expect((await authenticate(alice.token))?.sessionId).toBe(sessionIdOf(alice.token));
    const out = await api.app.inject({ method: 'POST', url: '/api/auth/logout', headers: auth(alice.token) });
    expect(out.statusCode).toBe(204);
    expect((await authenticate(alice.token))?.id).toBe(alice.id);
    now += 5_001;
    expect(await authenticate(alice.token)).toBeUndefined();

    expect((await authenticate(bob.token))?.id).toBe(bob.id);
    await new SessionsRepository(api.db.kysely).revokeAll(bob.id);
    authenticate.forget({ sessionId: sessionIdOf(bob.token) });
    expect(await authenticate(bob.token)).toBeUndefined();
  });
});

describe('last use of API keys', () => {
  it('is recorded when a key is used, and shown in the list', async () => {
    const created = await api.app.inject({
      method: 'POST',
      url: '/api/auth/api-keys',
      headers: auth(alice.token),
      payload: { name: 'ci' },
    });
    const list = async () =>
      (
        await api.app.inject({ method: 'GET', url: '/api/auth/api-keys', headers: auth(alice.token) })
      ).json()[0].lastUsedAt as string | null;
    expect(await list()).toBeNull();
    const before = Date.now();
    expect((await me(created.json().key)).statusCode).toBe(200);
    await vi.waitFor(async () => expect(await list()).not.toBeNull(), { timeout: 10_000, interval: 100 });
    const lastUsed = Date.parse((await list())!);
    expect(lastUsed).toBeGreaterThanOrEqual(before);
    expect(lastUsed).toBeLessThanOrEqual(Date.now());
  });
});
