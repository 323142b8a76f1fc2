import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ApiKeysRepository,
  InvitationsRepository,
  TestsRepository,
  UsersRepository,
  WorkspaceMembersRepository,
  WorkspacesRepository,
  createDb,
  migrateToLatest,
  migrateUpTo,
} from '../src/index.js';
import type { Db } from '../src/index.js';
import { createTestDatabase } from '../src/testing.js';

type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;

describe('workspaces migration, on a database with the data of the schema before it', () => {
  let database: TestDatabase;
  let db: Db;
  beforeAll(async () => {
    database = await createTestDatabase();
    db = createDb(database.url);
  });
  afterAll(async () => {
    await db.close();
    await database.drop();
  });

  it('gives every user a personal workspace they own and moves their tests and keys into it', async () => {
    const k = db.kysely;
    await migrateUpTo(k, '2026_12_05_0500_h21_judging');
    const users = await sql<{ id: string; email: string }>`
      INSERT INTO users (email, password_hash) VALUES ('ann@example.test', 'h'), ('bob@example.test', 'h')
      RETURNING id, email`.execute(k);
    const [ann, bob] = users.rows as unknown as [{ id: string }, { id: string }];
    const tests = [
      [randomUUID(), ann.id],
      [randomUUID(), ann.id],
      [randomUUID(), bob.id],
      [randomUUID(), null],
    ] as const;
    for (const [testId, userId] of tests) {
      await sql`INSERT INTO test_queue (test_id, test_type, url, user_id)
        VALUES (${testId}, 'seo', 'http://127.0.0.1/', ${userId})`.execute(k);
    }
    await sql`INSERT INTO api_keys (user_id, name, key_hash, key_prefix)
      VALUES (${bob.id}, 'ci', 'hash', 'crk_')`.execute(k);

    await migrateToLatest(k);

    const workspaces = await sql<{
      id: string;
      name: string;
      personal_of: string;
      user_id: string;
      role: string;
    }>`
      SELECT w.id, w.name, w.personal_of, m.user_id, m.role
      FROM workspaces w JOIN workspace_members m ON m.workspace_id = w.id ORDER BY w.name, m.user_id`.execute(
      k,
    );
    expect(workspaces.rows.map((w) => [w.name, w.personal_of, w.user_id, w.role]).sort()).toEqual(
      [
        ['Personal', ann.id, ann.id, 'owner'],
        ['Personal', bob.id, bob.id, 'owner'],
      ].sort(),
    );
    const personal = new Map(workspaces.rows.map((w) => [w.user_id, w.id]));
    const moved = await sql<{ test_id: string; workspace_id: string | null }>`
      SELECT test_id, workspace_id FROM test_queue`.execute(k);
    expect(new Map(moved.rows.map((r) => [r.test_id, r.workspace_id]))).toEqual(
      new Map(tests.map(([testId, userId]) => [testId, userId ? personal.get(userId) : null])),
    );
    const keys = await sql<{
      workspace_id: string;
      role: string;
    }>`SELECT workspace_id, role FROM api_keys`.execute(k);
    expect(keys.rows).toEqual([{ workspace_id: personal.get(bob.id), role: 'owner' }]);
  });
});

describe('workspaces and their members', () => {
  let database: TestDatabase;
  let db: Db;
  let users: UsersRepository;
  let workspaces: WorkspacesRepository;
  let members: WorkspaceMembersRepository;
  beforeAll(async () => {
    database = await createTestDatabase();
    db = createDb(database.url);
    await migrateToLatest(db.kysely);
    users = new UsersRepository(db.kysely);
    workspaces = new WorkspacesRepository(db.kysely);
    members = new WorkspaceMembersRepository(db.kysely);
  });
  afterAll(async () => {
    await db.close();
    await database.drop();
  });

  const newUser = async () => (await users.create(`${randomUUID()}@example.test`, 'h'))!;

  it('makes a personal workspace on registration, where tests and keys go by default', async () => {
    const ann = await newUser();
    const mine = await workspaces.listForUser(ann.id);
    expect(mine.map((w) => [w.name, w.personal_of, w.role])).toEqual([['Personal', ann.id, 'owner']]);
    const testId = randomUUID();
    const row = await new TestsRepository(db.kysely).create({
      testId,
      testType: 'seo',
      testName: null,
      url: 'http://127.0.0.1/',
      config: {},
      priority: 5,
      userId: ann.id,
    });
    expect(row.workspace_id).toBe(mine[0]!.id);
    const team = await workspaces.create('Team', ann.id);
    const [batch] = await new TestsRepository(db.kysely).createMany([
      {
        testId: randomUUID(),
        testType: 'seo',
        testName: null,
        url: 'http://127.0.0.1/',
        config: {},
        priority: 5,
        userId: ann.id,
        workspaceId: team.id,
      },
    ]);
    expect(batch).toMatchObject({ created: true, row: { workspace_id: team.id } });
    const key = await new ApiKeysRepository(db.kysely).create(ann.id, 'ci', randomUUID(), 'crk_');
    expect([key.workspace_id, key.role]).toEqual([mine[0]!.id, 'owner']);
  });

  it('always keeps an owner, even when two owners demote each other at once', async () => {
    const [ann, bob] = [await newUser(), await newUser()];
    const team = await workspaces.create('Team', ann.id);
    expect(await members.remove(team.id, ann.id)).toBe('LAST_OWNER');
    expect(await members.setRole(team.id, ann.id, 'admin')).toBe('LAST_OWNER');
    expect(await members.add(team.id, bob.id, 'owner')).toBe(true);
    expect(await members.add(team.id, bob.id, 'viewer')).toBe(false);
    const both = await Promise.all([
      members.setRole(team.id, ann.id, 'member'),
      members.setRole(team.id, bob.id, 'member'),
    ]);
    expect(both.sort()).toEqual(['LAST_OWNER', null].sort());
    expect((await members.list(team.id)).filter((m) => m.role === 'owner')).toHaveLength(1);
    expect(await members.remove(team.id, randomUUID())).toBe('NOT_A_MEMBER');
  });

  it("joins an invited user's new account to the invitation's workspace with its role, once", async () => {
    const ann = await newUser();
    const team = await workspaces.create('Team', ann.id);
    await new InvitationsRepository(db.kysely).create({
      tokenHash: 'ws-token',
      email: 'cat@example.test',
      createdBy: ann.id,
      expiresAt: new Date(Date.now() + 60_000),
      workspace: { id: team.id, role: 'viewer' },
    });
    const cat = await users.createInvited('cat@example.test', 'h', 'ws-token');
    expect(typeof cat).toBe('object');
    const catId = (cat as { id: string }).id;
    expect(await members.roleOf(team.id, catId)).toBe('viewer');
    expect((await workspaces.listForUser(catId)).map((w) => w.name)).toEqual(['Personal', 'Team']);
    expect(await users.createInvited('dan@example.test', 'h', 'ws-token')).toBe('INVITATION_INVALID');
    expect(await new InvitationsRepository(db.kysely).list(10)).toEqual([]);
  });

  it('never deletes a personal workspace; deleting a team deletes its tests', async () => {
    const ann = await newUser();
    const personal = await workspaces.findPersonal(ann.id);
    expect(await workspaces.delete(personal!.id)).toBe(false);
    const team = await workspaces.create('Team', ann.id);
    const testId = randomUUID();
    await new TestsRepository(db.kysely).create({
      testId,
      testType: 'seo',
      testName: null,
      url: 'http://127.0.0.1/',
      config: {},
      priority: 5,
      userId: ann.id,
      workspaceId: team.id,
    });
    expect(await workspaces.delete(team.id)).toBe(true);
    expect(await new TestsRepository(db.kysely).findById(testId)).toBeUndefined();
    expect(await workspaces.findForMember(team.id, ann.id)).toBeUndefined();
  });
});
