import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { WORKSPACE_ROLES, can } from '@crucible/contracts';
import type { WorkspaceAction, WorkspaceRole } from '@crucible/contracts';
import { UsersRepository } from '@crucible/db';
import { generateApiKey, hashApiKey } from '@crucible/runtime';
import type { User } from '@crucible/db';
import { h, signIn, startGateway, track, useHarness } from './harness.js';
import type { GatewayHandle } from './harness.js';
import { TestClient } from './ws-client.js';

useHarness();

/** The channels a workspace's members read, with the policy's action each is read by. */
const channels: {
  name: string;
  action: WorkspaceAction;
  of: (ids: { testId: string; workspaceId: string }) => string;
}[] = [
  { name: 'test-progress', action: 'test:read', of: (i) => `test-progress-${i.testId}` },
  { name: 'stress-test', action: 'test:read', of: (i) => `stress-test-${i.testId}` },
  { name: 'job-status', action: 'test:read', of: (i) => `job-status-${i.testId}` },
  { name: 'team', action: 'workspace:read', of: (i) => `team-${i.workspaceId}` },
];

async function connectAs(gateway: GatewayHandle, user: User): Promise<TestClient> {
  const { token } = await signIn(user);
  const client = track(await TestClient.connect(`${gateway.url}?token=${token}`));
  expect((await client.next()).event).toBe('connection:established');
  return client;
}

/** A team with one member per role, and a test of the team submitted by its owner. */
async function team(users: Record<WorkspaceRole, User>) {
  const workspace = await h.workspaces.create('Team', users.owner.id);
  for (const role of ['admin', 'member', 'viewer'] as const)
    await h.members.add(workspace.id, users[role].id, role);
  const testId = randomUUID();
  await h.tests.create({
    testId,
    testType: 'performance',
    testName: null,
    url: 'https://example.test/',
    config: {},
    priority: 5,
    userId: users.owner.id,
    workspaceId: workspace.id,
  });
  return { workspaceId: workspace.id, testId };
}

describe('workspace channels: the policy through the gateway', () => {
  const users = {} as Record<WorkspaceRole, User>;
  beforeAll(async () => {
    const repo = new UsersRepository(h.db.kysely);
    for (const role of WORKSPACE_ROLES)
      users[role] = (await repo.create(`${role}-${randomUUID()}@example.test`, 'h'))!;
  });

  const rows = channels.flatMap((channel) =>
    [...WORKSPACE_ROLES, 'stranger' as const].map((who) => ({ ...channel, who })),
  );
  it.each(rows)('$name by $who', async ({ action, of, who }) => {
    const gateway = await startGateway();
    const ids = await team(users);
    const channel = of(ids);
    const client = await connectAs(gateway, who === 'stranger' ? h.stranger : users[who]);
    client.send({ type: 'subscribe', channel });
    const reply = await client.next();
    if (who !== 'stranger' && can(who, action)) {
      expect(reply).toMatchObject({ type: 'subscribed', channel });
    } else {
      expect(reply).toEqual({
        type: 'error',
        code: 'FORBIDDEN',
        channel,
        detail: 'not allowed to read this channel',
      });
    }
  });

  it("takes a removed member's workspace channels off their open sockets, and leaves the rest", async () => {
    const gateway = await startGateway({ revalidateMs: 100 });
    const ids = await team(users);
    const other = await team(users);
    const client = await connectAs(gateway, users.member);
    const dropped = [`test-progress-${ids.testId}`, `team-${ids.workspaceId}`];
    const kept = `team-${other.workspaceId}`;
    for (const channel of [...dropped, kept]) {
      client.send({ type: 'subscribe', channel });
      expect(await client.next()).toMatchObject({ type: 'subscribed', channel });
    }
    expect(await h.members.remove(ids.workspaceId, users.member.id)).toBeNull();
    const frames = await client.nextN(2);
    expect(frames.map((f) => [f.type, f.code, f.channel]).sort()).toEqual(
      dropped.map((channel) => ['error', 'FORBIDDEN', channel]).sort(),
    );
    // The socket stays, with the channels of the workspaces it is still a member of.
    client.send({ type: 'unsubscribe', channel: kept });
    expect(await client.next()).toEqual({ type: 'unsubscribed', channel: kept });
    client.send({ type: 'subscribe', channel: dropped[0] });
    expect(await client.next()).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
  });

  it("lets a socket opened with an API key, or with a ticket bought with one, read only the key's workspace", async () => {
    const gateway = await startGateway();
    const [a, b] = [await team(users), await team(users)];
    const key = generateApiKey();
    const row = await h.apiKeys.create(users.member.id, 'ci', hashApiKey(key), key.slice(0, 10), {
      workspaceId: a.workspaceId,
      role: 'viewer',
    });
    const { ticket } = await h.tickets.issue({
      userId: users.member.id,
      email: users.member.email,
      role: 'user',
      apiKeyId: row.id,
      apiKeyAccess: { workspaceId: a.workspaceId, role: 'viewer' },
    });
    for (const query of [`token=${key}`, `ticket=${ticket}`]) {
      const client = track(await TestClient.connect(`${gateway.url}?${query}`));
      expect((await client.next()).event).toBe('connection:established');
      client.send({ type: 'subscribe', channel: `team-${a.workspaceId}` });
      expect(await client.next()).toMatchObject({ type: 'subscribed' });
      client.send({ type: 'subscribe', channel: `test-progress-${b.testId}` });
      expect(await client.next()).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
    }
  });
});
