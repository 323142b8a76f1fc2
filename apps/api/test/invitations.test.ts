import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '@crucible/runtime';
import { SessionsRepository } from '@crucible/db';
import { loadApiEnv } from '../src/env.js';
import { auth, startApi } from './helpers.js';
import type { Api } from './helpers.js';

const PASSWORD = 'correct horse battery';
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);
const DAY_MS = 24 * 60 * 60 * 1000;

describe('registration modes and invitations', () => {
  let api: Api | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  const register = (email: string, invitation?: string) =>
    api!.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email, password: PASSWORD, ...(invitation ? { invitation } : {}) },
    });
  const invite = (token: string, body: object = {}) =>
    api!.app.inject({ method: 'POST', url: '/api/admin/invitations', headers: auth(token), payload: body });
  const mode = async () =>
    (await api!.app.inject({ method: 'GET', url: '/api/auth/registration' })).json().mode as string;

  it('by default is open until the first account (the admin), then needs an invitation, each used once', async () => {
    api = await startApi({ registration: undefined });
    expect(await mode()).toBe('open');
    const first = await register('admin@example.com');
    expect(first.statusCode).toBe(201);
    expect(first.json().user.role).toBe('admin');
    const adminToken = first.json().token as string;
    expect(await mode()).toBe('invite');

    const uninvited = await register('eve@example.com');
    expect(uninvited.statusCode).toBe(403);
    expect(uninvited.headers['content-type']).toContain('application/problem+json');
    expect(uninvited.json()).toMatchObject({
      code: 'INVITATION_REQUIRED',
      detail: 'Registration on this server needs an invitation from an administrator',
    });

    const before = Date.now();
    const created = await invite(adminToken);
    expect(created.statusCode).toBe(201);
    const { invitationId, token, expiresAt } = created.json();
    expect(token).toMatch(/^inv_[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(expiresAt) - before).toBeGreaterThanOrEqual(7 * DAY_MS - 1_000);
    expect(Date.parse(expiresAt) - before).toBeLessThanOrEqual(7 * DAY_MS + 60_000);
    // Only the token's hash is kept.
    const row = await api.db.kysely
      .selectFrom('invitations')
      .selectAll()
      .where('id', '=', invitationId)
      .executeTakeFirstOrThrow();
    expect(row.token_hash).toBe(createHash('sha256').update(token).digest('hex'));

    const invited = await register('alice@example.com', token);
    expect(invited.statusCode).toBe(201);
    expect(invited.json().user).toMatchObject({ email: 'alice@example.com', role: 'user' });
    const again = await register('mallory@example.com', token);
    expect(again.statusCode).toBe(403);
    expect(again.json()).toMatchObject({
      code: 'INVITATION_INVALID',
      detail: 'This invitation is unknown, used, revoked, expired or meant for another email',
    });

    const list = await api.app.inject({
      method: 'GET',
      url: '/api/admin/invitations',
      headers: auth(adminToken),
    });
    expect(list.json().items).toEqual([
      {
        id: invitationId,
        email: null,
        status: 'used',
        createdAt: row.created_at.toISOString(),
        expiresAt,
        usedAt: expect.any(String),
        revokedAt: null,
      },
    ]);
    expect(JSON.stringify(list.json())).not.toContain(token);
  });

  /** An admin made directly in the database, as an invite-only deployment's first one is. */
  async function seedAdmin(): Promise<string> {
    const { id } = await api!.db.kysely
      .insertInto('users')
      .values({ email: 'root@example.com', password_hash: 'x', role: 'admin' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const session = await new SessionsRepository(api!.db.kysely).create(id, {});
    return api!.tokens.sign({ sub: id, role: 'admin', sid: session.id });
  }

  it('gives an invitation to exactly one of two registrations racing for it', async () => {
    api = await startApi({ registration: 'invite' });
    const adminToken = await seedAdmin();
    const { token } = (await invite(adminToken)).json();
    const emails = ['one@example.com', 'two@example.com'];
    const results = await Promise.all(emails.map((email) => register(email, token)));
    expect(results.map((r) => r.statusCode).sort()).toEqual([201, 403]);
    // The loser's account was not made: its email is still free for another invitation.
    const loser = emails[results.findIndex((r) => r.statusCode === 403)]!;
    const fresh = (await invite(adminToken)).json().token as string;
    expect((await register(loser, fresh)).statusCode).toBe(201);
  });

  it('binds an invitation to its email, and refuses revoked and expired ones', async () => {
    api = await startApi({ registration: 'invite' });
    const adminToken = await seedAdmin();

    const forCarol = (await invite(adminToken, { email: 'Carol@Example.com' })).json().token as string;
    expect((await register('dave@example.com', forCarol)).json().code).toBe('INVITATION_INVALID');
    // The refused registration made no account and did not use the invitation.
    expect((await register('carol@example.com', forCarol)).statusCode).toBe(201);

    const revoked = (await invite(adminToken)).json();
    const revoke = (id: string, token = adminToken) =>
      api!.app.inject({ method: 'DELETE', url: `/api/admin/invitations/${id}`, headers: auth(token) });
    expect((await revoke(revoked.invitationId)).statusCode).toBe(204);
    expect((await revoke(revoked.invitationId)).statusCode).toBe(404);
    expect((await register('erin@example.com', revoked.token)).json().code).toBe('INVITATION_INVALID');

    const expired = (await invite(adminToken)).json();
    await api.db.kysely
      .updateTable('invitations')
      .set({ expires_at: new Date(Date.now() - 1_000) })
      .where('id', '=', expired.invitationId)
      .execute();
    expect((await register('frank@example.com', expired.token)).json().code).toBe('INVITATION_INVALID');
    expect((await register('frank@example.com', 'inv_made-up')).json().code).toBe('INVITATION_INVALID');

    const statuses = (
      await api.app.inject({ method: 'GET', url: '/api/admin/invitations', headers: auth(adminToken) })
    )
      .json()
      .items.map((i: { email: string | null; status: string }) => [i.email, i.status]);
    expect(statuses).toEqual([
      [null, 'expired'],
      [null, 'revoked'],
      ['carol@example.com', 'used'],
    ]);

    // Only admins hand out invitations.
    const carol = await api.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'carol@example.com', password: PASSWORD },
    });
    const userToken = carol.json().token as string;
    expect((await invite(userToken)).statusCode).toBe(403);
    expect((await revoke(expired.invitationId, userToken)).statusCode).toBe(403);
    expect(
      (await api.app.inject({ method: 'GET', url: '/api/admin/invitations', headers: auth(userToken) }))
        .statusCode,
    ).toBe(403);
  });

  it("makes an invite-only deployment's first account, the admin, from an invitation made on the command line", async () => {
    api = await startApi({ registration: 'invite' });
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'apps/api/src/invite.ts', 'Founder@Example.com'],
      { cwd: REPO_ROOT, env: { ...process.env, DATABASE_URL: api.databaseUrl } },
    );
    const token = /^token: (inv_\S+)$/m.exec(stdout)?.[1];
    expect(stdout).toMatch(/^invitation [0-9a-f-]{36} for founder@example\.com, usable once until /);
    expect((await register('someone@example.com', token)).json().code).toBe('INVITATION_INVALID');
    const founder = await register('founder@example.com', token);
    expect(founder.statusCode).toBe(201);
    expect(founder.json().user.role).toBe('admin');
  });

  it('refuses every registration when closed, the first one included', async () => {
    api = await startApi({ registration: 'closed' });
    expect(await mode()).toBe('closed');
    const res = await register('admin@example.com');
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({
      code: 'REGISTRATION_CLOSED',
      detail: 'Registration is closed on this server',
    });
  });

  it('needs invitations by default in distributed mode, and names a bad REGISTRATION', () => {
    const env = { JWT_SECRET: 'x'.repeat(32) };
    expect(loadApiEnv(env).registration).toBe('invite');
    expect(loadApiEnv({ ...env, REGISTRATION: 'open' }).registration).toBe('open');
    expect(() => loadApiEnv({ ...env, REGISTRATION: 'public' })).toThrow(ConfigError);
    expect(() => loadApiEnv({ ...env, REGISTRATION: 'public' })).toThrow(
      'REGISTRATION: must be open, invite or closed, got "public"',
    );
  });
});
