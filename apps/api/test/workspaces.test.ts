import { randomUUID } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKSPACE_ACTIONS, WORKSPACE_ROLES, can } from '@crucible/contracts';
import type { WorkspaceAction, WorkspaceRole } from '@crucible/contracts';
import {
  InvitationsRepository,
  NotificationChannelsRepository,
  TestsRepository,
  WorkspaceMembersRepository,
  WorkspacesRepository,
} from '@crucible/db';
import { auth, register, startApi } from './helpers.js';
import type { Api } from './helpers.js';

type User = Awaited<ReturnType<typeof register>>;
const RUN = { testType: 'seo', url: 'http://127.0.0.1:8080/' };

/** A fresh team: one user per role, an extra member to act on, a queued and a cancelled test. */
interface Team {
  id: string;
  target: User;
  queuedTest: string;
  cancelledTest: string;
  /** An unused invitation into the team, as a member. */
  invitation: string;
  /** An in-app notification channel of the team. */
  channel: string;
}

/** One request per action of the policy, and the status it answers when allowed. */
const requests: Record<WorkspaceAction, { status: number; request: (team: Team) => InjectOptions }> = {
  'workspace:read': { status: 200, request: (t) => ({ method: 'GET', url: `/api/workspaces/${t.id}` }) },
  'workspace:update': {
    status: 200,
    request: (t) => ({ method: 'PATCH', url: `/api/workspaces/${t.id}`, payload: { name: 'Renamed' } }),
  },
  'workspace:delete': { status: 204, request: (t) => ({ method: 'DELETE', url: `/api/workspaces/${t.id}` }) },
  'member:read': { status: 200, request: (t) => ({ method: 'GET', url: `/api/workspaces/${t.id}/members` }) },
  'member:invite': {
    status: 201,
    request: (t) => ({
      method: 'POST',
      url: `/api/workspaces/${t.id}/invitations`,
      payload: { email: `${randomUUID()}@example.test`, role: 'member' },
    }),
  },
  'invitation:revoke': {
    status: 204,
    request: (t) => ({ method: 'DELETE', url: `/api/workspaces/${t.id}/invitations/${t.invitation}` }),
  },
  'member:update': {
    status: 204,
    request: (t) => ({
      method: 'PATCH',
      url: `/api/workspaces/${t.id}/members/${t.target.id}`,
      payload: { role: 'viewer' },
    }),
  },
  'member:remove': {
    status: 204,
    request: (t) => ({ method: 'DELETE', url: `/api/workspaces/${t.id}/members/${t.target.id}` }),
  },
  'owner:manage': {
    status: 204,
    request: (t) => ({
      method: 'PATCH',
      url: `/api/workspaces/${t.id}/members/${t.target.id}`,
      payload: { role: 'owner' },
    }),
  },
  'apiKey:create': {
    status: 201,
    request: (t) => ({
      method: 'POST',
      url: '/api/auth/api-keys',
      headers: { 'x-crucible-workspace': t.id },
      payload: { name: 'ci', role: 'viewer' },
    }),
  },
  'audit:read': { status: 200, request: (t) => ({ method: 'GET', url: `/api/workspaces/${t.id}/audit` }) },
  'test:share': {
    status: 201,
    request: (t) => ({
      method: 'POST',
      url: `/api/test/${t.queuedTest}/share`,
      headers: { 'x-crucible-workspace': t.id },
      payload: {},
    }),
  },
  'test:read': {
    status: 200,
    request: (t) => ({ method: 'GET', url: `/api/tests/${t.queuedTest}?workspace=${t.id}` }),
  },
  'test:run': {
    status: 202,
    request: (t) => ({
      method: 'POST',
      url: '/api/test/run',
      headers: { 'x-crucible-workspace': t.id },
      payload: RUN,
    }),
  },
  'test:cancel': {
    status: 200,
    request: (t) => ({
      method: 'POST',
      url: `/api/test/${t.queuedTest}/cancel`,
      headers: { 'x-crucible-workspace': t.id },
    }),
  },
  'test:retry': {
    status: 202,
    request: (t) => ({
      method: 'POST',
      url: `/api/test/queue/jobs/${t.cancelledTest}/retry`,
      headers: { 'x-crucible-workspace': t.id },
    }),
  },
  'test:cleanup': {
    status: 200,
    request: (t) => ({ method: 'DELETE', url: `/api/test/queue/cleanup?workspace=${t.id}` }),
  },
  'notificationChannel:read': {
    status: 200,
    request: (t) => ({
      method: 'GET',
      url: `/api/notification-channels/${t.channel}/deliveries?workspace=${t.id}`,
    }),
  },
  'notificationChannel:test': {
    status: 200,
    request: (t) => ({
      method: 'POST',
      url: `/api/notification-channels/${t.channel}/test`,
      headers: { 'x-crucible-workspace': t.id },
    }),
  },
  'notificationChannel:manage': {
    status: 200,
    request: (t) => ({
      method: 'PATCH',
      url: `/api/notification-channels/${t.channel}?workspace=${t.id}`,
      payload: { name: 'Renamed' },
    }),
  },
  'monitor:read': {
    status: 200,
    request: (t) => ({ method: 'GET', url: `/api/monitors?workspace=${t.id}` }),
  },
  'monitor:write': {
    status: 201,
    request: (t) => ({
      method: 'POST',
      url: '/api/monitors',
      headers: { 'x-crucible-workspace': t.id },
      payload: { name: 'home', test: RUN, schedule: { everySeconds: 3600 } },
    }),
  },
  'alert:read': {
    status: 200,
    request: (t) => ({ method: 'GET', url: `/api/alert-rules?workspace=${t.id}` }),
  },
  'alert:write': {
    status: 201,
    request: (t) => ({
      method: 'POST',
      url: '/api/alert-rules',
      headers: { 'x-crucible-workspace': t.id },
      payload: {
        name: 'down',
        target: { allMonitors: true },
        condition: { kind: 'down' },
        severity: 'critical',
        channelIds: [],
      },
    }),
  },
};

describe('workspaces: the policy through the HTTP routes', () => {
  let api: Api;
  const users = {} as Record<WorkspaceRole | 'stranger', User>;

  beforeAll(async () => {
    api = await startApi();
    // The first account is the instance's admin, who reads every test: not one of the roles here.
    await register(api, 'root@example.test');
    for (const who of [...WORKSPACE_ROLES, 'stranger'] as const)
      users[who] = await register(api, `${who}@example.test`);
  });
  afterAll(async () => {
    await api?.close();
  });

  async function team(): Promise<Team> {
    const k = api.db.kysely;
    const workspace = await new WorkspacesRepository(k).create('Team', users.owner.id);
    const members = new WorkspaceMembersRepository(k);
    for (const role of ['admin', 'member', 'viewer'] as const)
      await members.add(workspace.id, users[role].id, role);
    const target = await register(api, `${randomUUID()}@example.test`);
    await members.add(workspace.id, target.id, 'member');
    const tests = new TestsRepository(k);
    const made = async () =>
      (
        await tests.create({
          testId: randomUUID(),
          testType: 'seo',
          testName: null,
          url: RUN.url,
          config: {},
          priority: 5,
          userId: users.owner.id,
          workspaceId: workspace.id,
        })
      ).test_id;
    const [queuedTest, cancelledTest] = [await made(), await made()];
    await tests.cancel(cancelledTest, { id: users.owner.id, role: 'user', workspaceId: workspace.id });
    const invitation = await new InvitationsRepository(k).create({
      tokenHash: randomUUID(),
      email: `${randomUUID()}@example.test`,
      createdBy: users.owner.id,
      expiresAt: new Date(Date.now() + 60_000),
      workspace: { id: workspace.id, role: 'member' },
    });
    const channel = await new NotificationChannelsRepository(k).create({
      workspaceId: workspace.id,
      createdBy: users.owner.id,
      name: 'Team bell',
      type: 'in-app',
      config: {},
      secret: null,
      templates: {},
    });
    return {
      id: workspace.id,
      target,
      queuedTest,
      cancelledTest,
      invitation: invitation.id,
      channel: channel.id,
    };
  }

  const rows = WORKSPACE_ACTIONS.flatMap((action) =>
    [...WORKSPACE_ROLES, 'stranger' as const].map((who) => ({ action, who })),
  );
  it.each(rows)('$action by $who', async ({ action, who }) => {
    const t = await team();
    const { request, status } = requests[action];
    const options = request(t);
    const res = await api.app.inject({
      ...options,
      headers: { ...options.headers, ...auth(users[who].token) },
    });
    if (who === 'stranger') {
      expect([res.statusCode, res.json().code]).toEqual([404, 'NOT_FOUND']);
    } else if (can(who, action)) {
      expect(res.statusCode, res.body).toBe(status);
    } else {
      expect([res.statusCode, res.json().code]).toEqual([403, 'FORBIDDEN_ROLE']);
    }
  });
});

describe('workspaces: sharing tests, keys, invitations, owners', () => {
  let api: Api;
  let ann: User;
  let bob: User;
  let team: string;
  const as = (user: User, options: InjectOptions) =>
    api.app.inject({ ...options, headers: { ...options.headers, ...auth(user.token) } });
  const inTeam = { 'x-crucible-workspace': '' };

  beforeAll(async () => {
    api = await startApi({ registration: 'invite' });
    const root = await api.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: {
        email: 'root@example.test',
        password: 'correct horse battery',
        invitation: await adminInvitation(),
      },
    });
    expect(root.statusCode).toBe(201);
    ann = await registerInvited('ann@example.test', await adminInvitation());
    const created = await as(ann, { method: 'POST', url: '/api/workspaces', payload: { name: 'QA' } });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ name: 'QA', role: 'owner', personal: false });
    team = created.json().id;
    inTeam['x-crucible-workspace'] = team;
  });
  afterAll(async () => {
    await api?.close();
  });

  async function adminInvitation(): Promise<string> {
    const { createHash, randomBytes } = await import('node:crypto');
    const token = `inv_${randomBytes(32).toString('base64url')}`;
    await api.db.kysely
      .insertInto('invitations')
      .values({
        token_hash: createHash('sha256').update(token).digest('hex'),
        email: null,
        created_by: null,
        expires_at: new Date(Date.now() + 60_000),
      })
      .execute();
    return token;
  }
  async function registerInvited(email: string, invitation: string): Promise<User> {
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email, password: 'correct horse battery', invitation },
    });
    expect(res.statusCode, res.body).toBe(201);
    return { token: res.json().token, id: res.json().user.id, role: res.json().user.role };
  }
  const invite = async (email: string, role: WorkspaceRole) => {
    const res = await as(ann, {
      method: 'POST',
      url: `/api/workspaces/${team}/invitations`,
      payload: { email, role },
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().token as string;
  };

  it("lets a workspace's invitation register a new account on an invite-only server, as a member, once", async () => {
    const token = await invite('bob@example.test', 'member');
    bob = await registerInvited('bob@example.test', token);
    const mine = await as(bob, { method: 'GET', url: '/api/workspaces' });
    expect(mine.json().items.map((w: { name: string; role: string }) => [w.name, w.role])).toEqual([
      ['Personal', 'owner'],
      ['QA', 'member'],
    ]);
    const again = await api.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email: 'bob2@example.test', password: 'correct horse battery', invitation: token },
    });
    expect([again.statusCode, again.json().code]).toEqual([403, 'INVITATION_INVALID']);
    // Joining by registering is in the workspace's audit log, as accepting signed in is.
    const log = await as(ann, { method: 'GET', url: `/api/workspaces/${team}/audit` });
    expect(log.json().items[0]).toMatchObject({
      action: 'invitation.accepted',
      actor: { id: bob.id, email: 'bob@example.test' },
      target: { type: 'user', id: bob.id },
      details: { role: 'member', registered: true },
    });
    const history = await api.eventLog.recover(`team-${team}`, 0);
    expect(history.messages.map((m) => [m.event, m.data])).toContainEqual([
      'workspace:member:joined',
      { workspaceId: team, userId: bob.id, role: 'member' },
    ]);
  });

  it("revokes a workspace's unused invitation at once, an owner's only by an owner, and records it", async () => {
    const make = async (workspace: string, email: string, role: WorkspaceRole) => {
      const res = await as(ann, {
        method: 'POST',
        url: `/api/workspaces/${workspace}/invitations`,
        payload: { email, role },
      });
      expect(res.statusCode, res.body).toBe(201);
      return res.json() as { invitationId: string; token: string };
    };
    const revoke = (user: User, workspace: string, invitationId: string) =>
      as(user, { method: 'DELETE', url: `/api/workspaces/${workspace}/invitations/${invitationId}` });
    const eve = await registerInvited(
      'eve@example.test',
      (await make(team, 'eve@example.test', 'admin')).token,
    );
    const forOwner = await make(team, 'olga@example.test', 'owner');
    const forMember = await make(team, 'mia@example.test', 'member');

    const byAdmin = await revoke(eve, team, forOwner.invitationId);
    expect([byAdmin.statusCode, byAdmin.json().code]).toEqual([403, 'FORBIDDEN_ROLE']);
    expect((await revoke(ann, team, forOwner.invitationId)).statusCode).toBe(204);
    expect((await revoke(eve, team, forMember.invitationId)).statusCode).toBe(204);
    // Gone at once: not again, and the links neither register nor join.
    expect((await revoke(ann, team, forMember.invitationId)).json().code).toBe('NOT_FOUND');
    for (const [email, { token }] of [
      ['olga@example.test', forOwner],
      ['mia@example.test', forMember],
    ] as const) {
      const res = await api.app.inject({
        method: 'POST',
        url: '/api/auth/register',
        payload: { email, password: 'correct horse battery', invitation: token },
      });
      expect([res.statusCode, res.json().code]).toEqual([403, 'INVITATION_INVALID']);
    }
    // A used invitation, and another workspace's, are not this workspace's to revoke.
    const used = await make(team, 'finn@example.test', 'viewer');
    await registerInvited('finn@example.test', used.token);
    expect((await revoke(ann, team, used.invitationId)).statusCode).toBe(404);
    const other = (
      await as(ann, { method: 'POST', url: '/api/workspaces', payload: { name: 'Other' } })
    ).json();
    const elsewhere = await make(other.id, 'gus@example.test', 'member');
    expect((await revoke(ann, team, elsewhere.invitationId)).statusCode).toBe(404);

    const log = await as(ann, { method: 'GET', url: `/api/workspaces/${team}/audit` });
    const revoked = (log.json().items as { action: string }[]).filter(
      (e) => e.action === 'invitation.revoked',
    );
    expect(revoked).toMatchObject([
      {
        actor: { id: eve.id, email: 'eve@example.test' },
        target: { type: 'invitation', id: forMember.invitationId },
        details: { email: 'mia@example.test', role: 'member' },
      },
      {
        actor: { email: 'ann@example.test' },
        target: { type: 'invitation', id: forOwner.invitationId },
        details: { email: 'olga@example.test', role: 'owner' },
      },
    ]);
  });

  it("lists a workspace's pending invitations to its admins: not used, revoked, expired or another's", async () => {
    const own = (
      await as(ann, { method: 'POST', url: '/api/workspaces', payload: { name: 'Pending' } })
    ).json().id as string;
    const make = async (email: string, role: WorkspaceRole) => {
      const res = await as(ann, {
        method: 'POST',
        url: `/api/workspaces/${own}/invitations`,
        payload: { email, role },
      });
      expect(res.statusCode, res.body).toBe(201);
      return res.json() as { invitationId: string; token: string; expiresAt: string };
    };
    const list = (user: User) => as(user, { method: 'GET', url: `/api/workspaces/${own}/invitations` });
    const admin = await make('pia@example.test', 'admin');
    const pia = await registerInvited('pia@example.test', admin.token);
    const viewer = await make('vic@example.test', 'viewer');
    const member = await make('max@example.test', 'member');
    const revoked = await make('rex@example.test', 'member');
    const expired = await make('old@example.test', 'member');
    await api.db.kysely
      .updateTable('invitations')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', expired.invitationId)
      .execute();
    expect(
      (await as(ann, { method: 'DELETE', url: `/api/workspaces/${own}/invitations/${revoked.invitationId}` }))
        .statusCode,
    ).toBe(204);

    const seen = await list(pia);
    expect(seen.statusCode, seen.body).toBe(200);
    const items = seen.json().items as Record<string, unknown>[];
    // Newest first; never a token.
    expect(items).toEqual([
      {
        invitationId: member.invitationId,
        email: 'max@example.test',
        role: 'member',
        invitedBy: 'ann@example.test',
        createdAt: expect.any(String),
        expiresAt: member.expiresAt,
      },
      {
        invitationId: viewer.invitationId,
        email: 'vic@example.test',
        role: 'viewer',
        invitedBy: 'ann@example.test',
        createdAt: expect.any(String),
        expiresAt: viewer.expiresAt,
      },
    ]);
    expect(JSON.stringify(items)).not.toContain(member.token);
    // A member may not see them (403); someone outside the workspace gets 404.
    const mo = await registerInvited('max@example.test', member.token);
    expect([(await list(mo)).statusCode, (await list(mo)).json().code]).toEqual([403, 'FORBIDDEN_ROLE']);
    expect((await list(bob)).statusCode).toBe(404);
    // Accepted, it is no longer pending.
    expect(((await list(ann)).json().items as { email: string }[]).map((i) => i.email)).toEqual([
      'vic@example.test',
    ]);
  });

  it('lets a signed-in user accept an invitation meant for their email only, once', async () => {
    const cat = await registerInvited('cat@example.test', await adminInvitation());
    const token = await invite('cat@example.test', 'viewer');
    const wrong = await as(bob, { method: 'POST', url: `/api/invitations/${token}/accept` });
    expect([wrong.statusCode, wrong.json().code]).toEqual([403, 'INVITATION_INVALID']);
    const ok = await as(cat, { method: 'POST', url: `/api/invitations/${token}/accept` });
    expect(ok.json()).toEqual({ workspaceId: team, role: 'viewer' });
    const reused = await as(cat, { method: 'POST', url: `/api/invitations/${token}/accept` });
    expect(reused.statusCode).toBe(403);
    // The workspace's channel hears of it.
    const history = await api.eventLog.recover(`team-${team}`, 0);
    expect(history.messages.map((m) => [m.event, m.data])).toContainEqual([
      'workspace:member:joined',
      { workspaceId: team, userId: cat.id, role: 'viewer' },
    ]);
    // A viewer reads the team's tests but does not run them.
    const run = await as(cat, { method: 'POST', url: '/api/test/run', headers: inTeam, payload: RUN });
    expect([run.statusCode, run.json().code]).toEqual([403, 'FORBIDDEN_ROLE']);
    expect(run.headers['content-type']).toContain('application/problem+json');
  });

  it("shows a team's tests to its members and only in that workspace", async () => {
    const run = await as(ann, { method: 'POST', url: '/api/test/run', headers: inTeam, payload: RUN });
    expect(run.statusCode).toBe(202);
    const { testId } = run.json();
    const inTeamList = await as(bob, { method: 'GET', url: `/api/test/queue/jobs?workspace=${team}` });
    expect(inTeamList.json().items.map((t: { testId: string }) => t.testId)).toContain(testId);
    const personal = await as(bob, { method: 'GET', url: '/api/test/queue/jobs' });
    expect(personal.json().items).toEqual([]);
    const viaPersonal = await as(bob, { method: 'GET', url: `/api/tests/${testId}` });
    expect(viaPersonal.statusCode).toBe(404);
    const unknown = await as(bob, {
      method: 'GET',
      url: '/api/test/queue/jobs',
      headers: { 'x-crucible-workspace': 'nope' },
    });
    expect(unknown.statusCode).toBe(404);
  });

  it("makes API keys that act in one workspace with at most their creator's role: a viewer key cannot submit", async () => {
    const tooHigh = await as(bob, {
      method: 'POST',
      url: '/api/auth/api-keys',
      headers: inTeam,
      payload: { name: 'ci', role: 'owner' },
    });
    expect(tooHigh.statusCode).toBe(403);
    const made = await as(ann, {
      method: 'POST',
      url: '/api/auth/api-keys',
      headers: inTeam,
      payload: { name: 'embed', role: 'viewer' },
    });
    expect(made.statusCode).toBe(201);
    const key = { token: made.json().key as string, id: ann.id, role: 'user' };
    const submit = await as(key, { method: 'POST', url: '/api/test/run', payload: RUN });
    expect([submit.statusCode, submit.json().code]).toEqual([403, 'FORBIDDEN_ROLE']);
    const list = await as(key, { method: 'GET', url: '/api/test/queue/jobs' });
    expect(list.statusCode).toBe(200);
    const elsewhere = await as(key, {
      method: 'GET',
      url: '/api/test/queue/jobs',
      headers: {
        'x-crucible-workspace': (await as(ann, { method: 'GET', url: '/api/workspaces' })).json().items[0].id,
      },
    });
    expect(elsewhere.statusCode).toBe(404);
  });

  it('always keeps an owner, and never deletes a personal workspace', async () => {
    const leave = await as(ann, { method: 'DELETE', url: `/api/workspaces/${team}/members/${ann.id}` });
    expect([leave.statusCode, leave.json().code]).toEqual([409, 'LAST_OWNER']);
    const demote = await as(ann, {
      method: 'PATCH',
      url: `/api/workspaces/${team}/members/${ann.id}`,
      payload: { role: 'admin' },
    });
    expect(demote.statusCode).toBe(409);
    const personal = (await as(ann, { method: 'GET', url: '/api/workspaces' })).json().items[0];
    expect(personal.personal).toBe(true);
    const del = await as(ann, { method: 'DELETE', url: `/api/workspaces/${personal.id}` });
    expect([del.statusCode, del.json().code]).toEqual([409, 'PERSONAL_WORKSPACE']);
    // A member may leave on their own.
    const bobLeaves = await as(bob, { method: 'DELETE', url: `/api/workspaces/${team}/members/${bob.id}` });
    expect(bobLeaves.statusCode).toBe(204);
    const history = await api.eventLog.recover(`team-${team}`, 0);
    expect(history.messages.at(-1)).toMatchObject({
      event: 'workspace:member:left',
      channel: `team-${team}`,
      data: { workspaceId: team, userId: bob.id, role: null },
    });
    expect((await as(bob, { method: 'GET', url: `/api/workspaces/${team}` })).statusCode).toBe(404);
  });
});

/** Asks every 20 ms for up to a second until `done`: another api process hears of a change over the cache's bus. */
async function soon<T>(ask: () => Promise<T>, done: (answer: T) => boolean): Promise<T> {
  const deadline = Date.now() + 1_000;
  let answer = await ask();
  while (!done(answer) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    answer = await ask();
  }
  return answer;
}

describe('workspaces: memberships remembered between requests', () => {
  let api1: Api;
  let api2: Api;
  const queries: string[] = [];
  const as = (api: Api, user: User, options: InjectOptions) =>
    api.app.inject({ ...options, headers: { ...options.headers, ...auth(user.token) } });
  const run = (api: Api, user: User, workspace: string) =>
    as(api, user, {
      method: 'POST',
      url: '/api/test/run',
      headers: { 'x-crucible-workspace': workspace },
      payload: RUN,
    });
  const membershipReads = () => queries.filter((q) => /"workspaces"|"workspace_members"/.test(q));

  beforeAll(async () => {
    api1 = await startApi({ onQuery: (sql) => queries.push(sql) });
    api2 = await startApi({}, { databaseUrl: api1.databaseUrl, prefix: api1.prefix });
  });
  afterAll(async () => {
    await api2?.close();
    await api1?.close();
  });

  /** A team made through the API: its owner, and a member who has submitted in both processes. */
  async function team() {
    const owner = await register(api1, `${randomUUID()}@example.test`);
    const member = await register(api1, `${randomUUID()}@example.test`);
    const created = await as(api1, owner, { method: 'POST', url: '/api/workspaces', payload: { name: 'T' } });
    const id = created.json().id as string;
    await new WorkspaceMembersRepository(api1.db.kysely).add(id, member.id, 'member');
    for (const api of [api1, api2]) expect((await run(api, member, id)).statusCode).toBe(202);
    return { id, owner, member };
  }

  it('accepts a test without reading the membership again from PostgreSQL', async () => {
    const user = await register(api1, `${randomUUID()}@example.test`);
    const submit = async () =>
      (await as(api1, user, { method: 'POST', url: '/api/test/run', payload: RUN })).statusCode;
    expect(await submit()).toBe(202);
    queries.length = 0;
    expect(await Promise.all([submit(), submit(), submit()])).toEqual([202, 202, 202]);
    expect(membershipReads()).toEqual([]);
  });

  it('refuses a removed member at once in the process that removed them, and soon in every other', async () => {
    const t = await team();
    const removed = await as(api1, t.owner, {
      method: 'DELETE',
      url: `/api/workspaces/${t.id}/members/${t.member.id}`,
    });
    expect(removed.statusCode).toBe(204);
    expect((await run(api1, t.member, t.id)).statusCode).toBe(404);
    const elsewhere = await soon(
      () => run(api2, t.member, t.id),
      (res) => res.statusCode === 404,
    );
    expect(elsewhere.statusCode).toBe(404);
  });

  it('holds a demoted member to the new role at once here and soon elsewhere; a deleted team is gone', async () => {
    const t = await team();
    const demoted = await as(api1, t.owner, {
      method: 'PATCH',
      url: `/api/workspaces/${t.id}/members/${t.member.id}`,
      payload: { role: 'viewer' },
    });
    expect(demoted.statusCode).toBe(204);
    expect((await run(api1, t.member, t.id)).json().code).toBe('FORBIDDEN_ROLE');
    const elsewhere = await soon(
      () => run(api2, t.member, t.id),
      (res) => res.statusCode === 403,
    );
    expect(elsewhere.json().code).toBe('FORBIDDEN_ROLE');

    expect((await run(api2, t.owner, t.id)).statusCode).toBe(202);
    const deleted = await as(api1, t.owner, { method: 'DELETE', url: `/api/workspaces/${t.id}` });
    expect(deleted.statusCode).toBe(204);
    expect((await run(api1, t.owner, t.id)).statusCode).toBe(404);
    const gone = await soon(
      () => run(api2, t.owner, t.id),
      (res) => res.statusCode === 404,
    );
    expect(gone.statusCode).toBe(404);
  });
});
