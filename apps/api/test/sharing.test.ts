import { randomUUID } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, register, startApi } from './helpers.js';
import type { Api } from './helpers.js';

type User = Awaited<ReturnType<typeof register>>;

/** Secrets an API test's config and result may hold: none may reach a shared page. */
const SECRETS = [
  's3cr3t-bearer',
  'hunter2-body',
  'tok-in-query',
  'captured-session-tok',
  'cookie-val',
  'pw-in-url',
];
const API_TEST = {
  testType: 'api',
  url: 'http://127.0.0.1:8080/login?token=tok-in-query',
  config: {
    steps: [
      {
        name: 'login',
        method: 'POST',
        path: '/login',
        headers: { Authorization: 'Bearer s3cr3t-bearer', Cookie: 'sid=cookie-val' },
        body: { password: 'hunter2-body' },
        capture: { session: '$.token' },
      },
      { name: 'me', url: 'http://user:pw-in-url@127.0.0.1:8080/me?access_token=tok-in-query' },
    ],
  },
};

describe('share links', () => {
  let api: Api;
  let ann: User;
  let bob: User;
  let team: string;
  const as = (user: User | null, options: InjectOptions) =>
    api.app.inject({ ...options, headers: { ...options.headers, ...(user ? auth(user.token) : {}) } });
  const inTeam = () => ({ 'x-crucible-workspace': team });

  async function submit(user: User, body: object = API_TEST): Promise<string> {
    const res = await as(user, { method: 'POST', url: '/api/test/run', headers: inTeam(), payload: body });
    expect(res.statusCode, res.body).toBe(202);
    return res.json().testId;
  }
  async function share(user: User, testId: string, payload: object = {}) {
    const res = await as(user, {
      method: 'POST',
      url: `/api/test/${testId}/share`,
      headers: inTeam(),
      payload,
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { id: string; shareId: string; url: string; expiresAt: string | null };
  }
  const read = (shareId: string) => api.app.inject({ method: 'GET', url: `/api/shared/${shareId}` });

  beforeAll(async () => {
    api = await startApi();
    await register(api, `root-${randomUUID()}@example.test`);
    ann = await register(api, `ann-${randomUUID()}@example.test`);
    bob = await register(api, `bob-${randomUUID()}@example.test`);
    const created = await as(ann, { method: 'POST', url: '/api/workspaces', payload: { name: 'Shop' } });
    team = created.json().id;
  });
  afterAll(async () => {
    await api?.close();
  });

  it('is readable without sign-in, redacted, with no id of anything and no one', async () => {
    const testId = await submit(ann);
    // The result as an API test stores it: the step's URL and what it captured.
    await api.db.kysely
      .updateTable('test_queue')
      .set({
        status: 'completed',
        verdict: 'passed',
        progress: 100,
        completed_at: new Date(),
        result: JSON.stringify({
          steps: [
            {
              name: 'login',
              url: 'http://127.0.0.1:8080/login?token=tok-in-query',
              status: 200,
              captured: { session: 'captured-session-tok' },
            },
          ],
        }),
      })
      .where('test_id', '=', testId)
      .execute();
    const made = await share(ann, testId);
    expect(made.shareId).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(made.url).toBe(`http://localhost:80/shared/${made.shareId}`);

    const res = await read(made.shareId);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const view = res.json();
    for (const secret of SECRETS) expect(res.body).not.toContain(secret);
    for (const id of [testId, team, ann.id, made.id]) expect(res.body).not.toContain(id);
    expect(res.body).not.toContain('@example.test');
    expect(view).toMatchObject({
      testType: 'api',
      status: 'completed',
      verdict: 'passed',
      url: 'http://127.0.0.1:8080/login?[redacted]',
      channel: `shared-tests-${made.shareId}`,
      expiresAt: null,
    });
    // Header names stay, so the page still says what was sent; their values do not.
    expect(view.config.steps[0].headers).toEqual({ Authorization: '[redacted]', Cookie: '[redacted]' });
    expect(view.config.steps[0].body).toBe('[redacted]');
    expect(view.config.steps[1].url).toBe('http://127.0.0.1:8080/me?[redacted]');
    expect(view.result.steps[0].captured).toEqual({ session: '[redacted]' });
    expect(Object.keys(view)).not.toContain('testId');
  });

  it('revocation takes effect at once, by public id or by id', async () => {
    const testId = await submit(ann);
    const first = await share(ann, testId);
    const second = await share(ann, testId);
    const listed = await as(ann, { method: 'GET', url: `/api/test/${testId}/shares`, headers: inTeam() });
    expect(
      listed
        .json()
        .items.map((s: { id: string }) => s.id)
        .sort(),
    ).toEqual([first.id, second.id].sort());

    const byPublic = await as(ann, {
      method: 'DELETE',
      url: `/api/test/${testId}/share/${first.shareId}`,
      headers: inTeam(),
    });
    expect(byPublic.statusCode).toBe(204);
    expect((await read(first.shareId)).statusCode).toBe(404);
    expect((await read(second.shareId)).statusCode).toBe(200);

    const byId = await as(ann, {
      method: 'DELETE',
      url: `/api/test/${testId}/share/${second.id}`,
      headers: inTeam(),
    });
    expect(byId.statusCode).toBe(204);
    expect((await read(second.shareId)).statusCode).toBe(404);
    const again = await as(ann, {
      method: 'DELETE',
      url: `/api/test/${testId}/share/${second.id}`,
      headers: inTeam(),
    });
    expect(again.statusCode).toBe(404);
  });

  it('reaches that one test only: other ids, other tests and other routes are not reachable', async () => {
    const testId = await submit(ann);
    const other = await submit(ann);
    const made = await share(ann, testId);
    for (const guess of ['A'.repeat(32), made.id, testId, `${made.shareId}x`, '..%2F..%2Fapi%2Ftests']) {
      expect((await read(guess)).statusCode, guess).toBe(404);
    }
    // The share is the test's: revoking it through another test's path finds nothing.
    const wrongTest = await as(ann, {
      method: 'DELETE',
      url: `/api/test/${other}/share/${made.shareId}`,
      headers: inTeam(),
    });
    expect(wrongTest.statusCode).toBe(404);
    expect((await read(made.shareId)).statusCode).toBe(200);
    // The share id is no credential anywhere else.
    const asToken = await api.app.inject({
      method: 'GET',
      url: `/api/tests/${other}`,
      headers: { authorization: `Bearer ${made.shareId}` },
    });
    expect(asToken.statusCode).toBe(401);
  });

  it('honours its expiry', async () => {
    const testId = await submit(ann);
    const past = await as(ann, {
      method: 'POST',
      url: `/api/test/${testId}/share`,
      headers: inTeam(),
      payload: { expiresAt: new Date(Date.now() - 1000).toISOString() },
    });
    expect([past.statusCode, past.json().code]).toEqual([400, 'INVALID_EXPIRY']);
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const made = await share(ann, testId, { expiresAt });
    expect(made.expiresAt).toBe(expiresAt);
    expect((await read(made.shareId)).json().expiresAt).toBe(expiresAt);
    // The hour passes.
    await api.db.kysely
      .updateTable('test_shares')
      .set({ expires_at: new Date(Date.now() - 1) })
      .where('id', '=', made.id)
      .execute();
    expect((await read(made.shareId)).statusCode).toBe(404);
  });

  it("is made only by the test's workspace's members, and the team hears of it", async () => {
    const testId = await submit(ann);
    const stranger = await as(bob, {
      method: 'POST',
      url: `/api/test/${testId}/share`,
      headers: inTeam(),
      payload: {},
    });
    expect(stranger.statusCode).toBe(404);
    const inOwn = await as(bob, { method: 'POST', url: `/api/test/${testId}/share`, payload: {} });
    expect(inOwn.statusCode).toBe(404);
    const made = await share(ann, testId);
    const history = await api.eventLog.recover(`team-${team}`, 0);
    const shared = history.messages.filter((m) => m.event === 'workspace:test:shared').at(-1);
    expect(shared?.data).toEqual({
      workspaceId: team,
      testId,
      shareId: made.id,
      userId: ann.id,
      expiresAt: null,
    });
    expect(JSON.stringify(history.messages)).not.toContain(made.shareId);
  });
});

describe('audit log', () => {
  let api: Api;
  let owner: User;
  let cat: User;
  let team: string;
  const as = (user: User, options: InjectOptions) =>
    api.app.inject({ ...options, headers: { ...options.headers, ...auth(user.token) } });
  const audit = async (user: User, query = '') =>
    as(user, { method: 'GET', url: `/api/workspaces/${team}/audit${query}` });

  beforeAll(async () => {
    api = await startApi();
    await register(api, `root-${randomUUID()}@example.test`);
    owner = await register(api, `owner-${randomUUID()}@example.test`);
  });
  afterAll(async () => {
    await api?.close();
  });

  it('records each membership, invitation, key, share, cleanup and settings change, newest first', async () => {
    team = (await as(owner, { method: 'POST', url: '/api/workspaces', payload: { name: 'Ops' } })).json().id;
    const ws = { 'x-crucible-workspace': team };
    const catEmail = `cat-${randomUUID()}@example.test`;
    cat = await register(api, catEmail);
    const invited = await as(owner, {
      method: 'POST',
      url: `/api/workspaces/${team}/invitations`,
      payload: { email: catEmail, role: 'member' },
    });
    const { invitationId, token } = invited.json();
    await as(cat, { method: 'POST', url: `/api/invitations/${token}/accept` });
    await as(owner, {
      method: 'PATCH',
      url: `/api/workspaces/${team}/members/${cat.id}`,
      payload: { role: 'admin' },
    });
    const key = (
      await as(owner, {
        method: 'POST',
        url: '/api/auth/api-keys',
        headers: ws,
        payload: { name: 'ci', role: 'member' },
      })
    ).json();
    await as(owner, { method: 'DELETE', url: `/api/auth/api-keys/${key.id}` });
    const testId = (
      await as(owner, {
        method: 'POST',
        url: '/api/test/run',
        headers: ws,
        payload: { testType: 'seo', url: 'http://127.0.0.1:8080/' },
      })
    ).json().testId;
    const made = (
      await as(owner, { method: 'POST', url: `/api/test/${testId}/share`, headers: ws, payload: {} })
    ).json();
    await as(owner, { method: 'DELETE', url: `/api/test/${testId}/share/${made.id}`, headers: ws });
    await as(owner, { method: 'POST', url: `/api/test/${testId}/cancel`, headers: ws });
    const cleaned = await as(owner, {
      method: 'DELETE',
      url: `/api/test/queue/cleanup?olderThan=0&workspace=${team}`,
    });
    expect(cleaned.json().deleted).toBe(1);
    await as(owner, { method: 'PATCH', url: `/api/workspaces/${team}`, payload: { name: 'Operations' } });
    await as(owner, { method: 'DELETE', url: `/api/workspaces/${team}/members/${cat.id}` });

    const res = await audit(owner, '?limit=100');
    expect(res.statusCode, res.body).toBe(200);
    const items = res.json().items as {
      action: string;
      actor: { email: string } | null;
      target: unknown;
      details: unknown;
    }[];
    expect(items.map((e) => e.action).reverse()).toEqual([
      'workspace.created',
      'invitation.created',
      'invitation.accepted',
      'member.role_changed',
      'api_key.created',
      'api_key.revoked',
      'share.created',
      'share.revoked',
      'tests.cleaned_up',
      'workspace.renamed',
      'member.removed',
    ]);
    const [removed, renamed, cleanup, , , keyRevoked, , changed, accepted, invitation] = items;
    expect(removed).toMatchObject({ target: { type: 'user', id: cat.id }, details: { role: 'admin' } });
    expect(renamed?.details).toEqual({ name: 'Operations' });
    expect(cleanup?.details).toEqual({ deleted: 1, olderThanHours: 0 });
    expect(keyRevoked).toMatchObject({ target: { type: 'api_key', id: key.id }, details: { name: 'ci' } });
    expect(changed).toMatchObject({ details: { from: 'member', to: 'admin' } });
    expect(accepted?.actor?.email).toBe(catEmail);
    expect(invitation).toMatchObject({
      target: { type: 'invitation', id: invitationId },
      details: { role: 'member' },
    });
    // Nothing secret is recorded: not the invitation's token, not the key.
    expect(res.body).not.toContain(token);
    expect(res.body).not.toContain(key.key);
  });

  it('pages with a cursor, like the tests list', async () => {
    const first = await audit(owner, '?limit=4');
    const page1 = first.json();
    expect(page1.items).toHaveLength(4);
    const second = (await audit(owner, `?limit=4&cursor=${page1.nextCursor}`)).json();
    const third = (await audit(owner, `?limit=4&cursor=${second.nextCursor}`)).json();
    expect(third.nextCursor).toBeNull();
    const ids = [...page1.items, ...second.items, ...third.items].map((e: { id: string }) => e.id);
    expect(ids).toHaveLength(11);
    expect(new Set(ids).size).toBe(11);
    const bad = await audit(owner, '?cursor=bm9wZQ');
    expect([bad.statusCode, bad.json().code]).toEqual([400, 'INVALID_CURSOR']);
  });

  it('is for admins: a member gets 403 FORBIDDEN_ROLE, a non-member 404', async () => {
    // cat was removed: a stranger now.
    const stranger = await audit(cat);
    expect([stranger.statusCode, stranger.json().code]).toEqual([404, 'NOT_FOUND']);
    const dan = await register(api, `dan-${randomUUID()}@example.test`);
    await api.db.kysely
      .insertInto('workspace_members')
      .values({ workspace_id: team, user_id: dan.id, role: 'member' })
      .execute();
    const member = await audit(dan);
    expect([member.statusCode, member.json().code]).toEqual([403, 'FORBIDDEN_ROLE']);
  });
});
