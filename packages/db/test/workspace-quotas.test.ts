import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TestAttemptsRepository,
  TestDispatchRepository,
  TestsRepository,
  UsersRepository,
  WorkspaceQuotasRepository,
  WorkspacesRepository,
  createDb,
  migrateToLatest,
  migrateUpTo,
} from '../src/index.js';
import type { Db, NewBatchTest } from '../src/index.js';
import { createTestDatabase } from '../src/testing.js';

type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;

describe('workspace quotas', () => {
  let database: TestDatabase;
  // Two pools: two api processes of one deployment.
  let dbs: [Db, Db];
  beforeAll(async () => {
    database = await createTestDatabase();
    dbs = [createDb(database.url), createDb(database.url)];
    await migrateToLatest(dbs[0].kysely);
  });
  afterAll(async () => {
    for (const db of dbs) await db.close();
    await database.drop();
  });

  const newTest = (userId: string, workspaceId: string, extra: Partial<NewBatchTest> = {}): NewBatchTest => ({
    testId: randomUUID(),
    testType: 'performance',
    testName: null,
    url: 'http://127.0.0.1/',
    config: {},
    priority: 5,
    userId,
    workspaceId,
    ...extra,
  });

  async function team() {
    const user = await new UsersRepository(dbs[0].kysely).create(`${randomUUID()}@example.test`, 'h');
    const workspace = await new WorkspacesRepository(dbs[0].kysely).create('Team', user!.id);
    return { userId: user!.id, workspaceId: workspace.id };
  }

  const counter = async (workspaceId: string) =>
    (
      await dbs[0].kysely
        .selectFrom('workspace_queue_counts')
        .select('queued')
        .where('workspace_id', '=', workspaceId)
        .executeTakeFirst()
    )?.queued ?? 0;

  it('admits exactly the quota when guarded inserts of two processes race for one workspace', async () => {
    const { userId, workspaceId } = await team();
    const limit = 10;
    // The counter row exists once the workspace has had a queued test or an exact admission.
    await new WorkspaceQuotasRepository(dbs[0].kysely).admit([workspaceId], async () => undefined);
    // Batches of two with room for them: at most limit − 2 queued before each.
    const admitted = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        new TestsRepository(dbs[i % 2]!.kysely).createManyWithin(
          [newTest(userId, workspaceId), newTest(userId, workspaceId)],
          new Map([[workspaceId, limit - 2]]),
        ),
      ),
    );
    expect(admitted.filter((a) => a !== undefined)).toHaveLength(limit / 2);
    expect(admitted.every((a) => a === undefined || a.every((o) => o.created))).toBe(true);
    expect((await new WorkspaceQuotasRepository(dbs[0].kysely).usage(workspaceId)).queued).toBe(limit);
    expect(await counter(workspaceId)).toBe(limit);
  });

  it('refuses a guarded insert without a counter row, and claims no key of a refused one', async () => {
    const { userId, workspaceId } = await team();
    const tests = new TestsRepository(dbs[0].kysely);
    const keyed = newTest(userId, workspaceId, { idempotency: { key: 'k1', requestHash: 'h' } });
    expect(await tests.createManyWithin([keyed], new Map([[workspaceId, 100]]))).toBeUndefined();
    await new WorkspaceQuotasRepository(dbs[0].kysely).admit([workspaceId], async () => undefined);
    expect(await tests.createManyWithin([keyed], new Map([[workspaceId, -1]]))).toBeUndefined();
    expect(
      await dbs[0].kysely.selectFrom('idempotency_keys').selectAll().where('user_id', '=', userId).execute(),
    ).toEqual([]);
    const made = await tests.createManyWithin([keyed], new Map([[workspaceId, 0]]));
    expect(made?.map((o) => o.created)).toEqual([true]);
    // A replay is admitted (nothing new is written) and answers the earlier test.
    const again = await tests.createManyWithin(
      [{ ...keyed, testId: randomUUID() }],
      new Map([[workspaceId, 1]]),
    );
    expect(again).toEqual([{ created: false, earlier: { testId: keyed.testId, requestHash: 'h' } }]);
    expect(await counter(workspaceId)).toBe(1);
  });

  it('admits exactly the quota when admissions of two processes race for one workspace', async () => {
    const user = await new UsersRepository(dbs[0].kysely).create(`${randomUUID()}@example.test`, 'h');
    const workspace = await new WorkspacesRepository(dbs[0].kysely).create('Team', user!.id);
    const limit = 10;
    const admitOne = (db: Db) =>
      new WorkspaceQuotasRepository(db.kysely).admit([workspace.id], async (usage, scope) => {
        if (usage.get(workspace.id)!.queued + 1 > limit) return false;
        await scope.tests.createMany([
          {
            testId: randomUUID(),
            testType: 'performance',
            testName: null,
            url: 'http://127.0.0.1/',
            config: {},
            priority: 5,
            userId: user!.id,
            workspaceId: workspace.id,
          },
        ]);
        return true;
      });
    const admitted = await Promise.all(Array.from({ length: 40 }, (_, i) => admitOne(dbs[i % 2]!)));
    expect(admitted.filter(Boolean)).toHaveLength(limit);
    expect((await new WorkspaceQuotasRepository(dbs[0].kysely).usage(workspace.id)).queued).toBe(limit);
  });

  it('keeps overrides per quota, charges stress per day, and drops both with the workspace', async () => {
    const user = await new UsersRepository(dbs[0].kysely).create(`${randomUUID()}@example.test`, 'h');
    const workspaces = new WorkspacesRepository(dbs[0].kysely);
    const workspace = await workspaces.create('Team', user!.id);
    const quotas = new WorkspaceQuotasRepository(dbs[0].kysely);
    expect(await quotas.overrides(workspace.id)).toEqual({
      queued: null,
      running: null,
      stressBudget: null,
      submitRate: null,
      stressConnections: null,
    });
    await quotas.setOverrides(workspace.id, { queued: 5, stressBudget: 3_000_000_000 });
    expect(await quotas.setOverrides(workspace.id, { running: 0, queued: undefined })).toEqual({
      queued: 5,
      running: 0,
      stressBudget: 3_000_000_000,
      submitRate: null,
      stressConnections: null,
    });
    await quotas.chargeStress(new Map([[workspace.id, 600]]));
    await quotas.chargeStress(new Map([[workspace.id, 400]]));
    expect(await quotas.usage(workspace.id)).toEqual({ queued: 0, running: 0, stressToday: 1000 });
    await workspaces.delete(workspace.id);
    expect((await quotas.overridesOf([workspace.id])).size).toBe(0);
    expect(await quotas.usage(workspace.id)).toEqual({ queued: 0, running: 0, stressToday: 0 });
  });
});

describe('the queued counter (workspace_queue_counts)', () => {
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

  const newTest = (userId: string, workspaceId: string): NewBatchTest => ({
    testId: randomUUID(),
    testType: 'performance',
    testName: null,
    url: 'http://127.0.0.1/',
    config: {},
    priority: 5,
    userId,
    workspaceId,
  });

  it('is built from the queue of yesterday’s schema when the migration runs', async () => {
    const k = db.kysely;
    await migrateUpTo(k, '2026_12_05_0850_quotas_workspace_quotas');
    const user = await new UsersRepository(k).create(`${randomUUID()}@example.test`, 'h');
    const workspaces = new WorkspacesRepository(k);
    const [a, b] = [await workspaces.create('A', user!.id), await workspaces.create('B', user!.id)];
    const rows = [a.id, a.id, a.id, b.id].map((w) => newTest(user!.id, w));
    await new TestsRepository(k).createMany(rows);
    // One of A's finished, one of B's running: neither is queued.
    await sql`UPDATE test_queue SET status = 'completed' WHERE test_id = ${rows[0]!.testId}`.execute(k);
    await sql`UPDATE test_queue SET status = 'running' WHERE test_id = ${rows[3]!.testId}`.execute(k);
    await migrateToLatest(k);
    const counts = await k.selectFrom('workspace_queue_counts').selectAll().orderBy('queued').execute();
    expect(counts).toEqual([{ workspace_id: a.id, queued: 2 }]);
    expect(await new WorkspaceQuotasRepository(k).queuedCountDrift()).toEqual([]);
  });

  it('equals the workspace’s queued tests after every path that moves a test', async () => {
    const k = db.kysely;
    await migrateToLatest(k);
    const quotas = new WorkspaceQuotasRepository(k);
    const tests = new TestsRepository(k);
    const attempts = new TestAttemptsRepository(k);
    const dispatch = new TestDispatchRepository(k);
    const user = await new UsersRepository(k).create(`${randomUUID()}@example.test`, 'h');
    const workspaces = new WorkspacesRepository(k);
    const [a, b] = [await workspaces.create('A', user!.id), await workspaces.create('B', user!.id)];
    const viewer = { id: user!.id, role: 'user' as const, workspaceId: a.id };
    const counted = async () => {
      expect(await quotas.queuedCountDrift()).toEqual([]);
      const rows = await k.selectFrom('workspace_queue_counts').selectAll().execute();
      const of = (id: string) => rows.find((r) => r.workspace_id === id)?.queued ?? 0;
      return [of(a.id), of(b.id)];
    };

    // Insert: one statement, two workspaces.
    const made = await tests.createMany([
      ...Array.from({ length: 6 }, () => newTest(user!.id, a.id)),
      ...Array.from({ length: 2 }, () => newTest(user!.id, b.id)),
    ]);
    const ids = made.map((o) => (o.created ? o.row.test_id : ''));
    const [t1, t2, t3, t4, t5, t6, u1] = ids;
    expect(await counted()).toEqual([6, 2]);
    // Dispatch (released, still queued), and back on the list: no change.
    await dispatch.claim([t1!, t2!, t3!, t4!, u1!]);
    await dispatch.unclaim([t4!]);
    expect(await counted()).toEqual([6, 2]);
    // Start: queued → running, one by one and several in one statement.
    await attempts.startAttempt(t1!, 0);
    await attempts.startAttempts([
      { testId: t2!, run: 0 },
      { testId: t3!, run: 0 },
      { testId: u1!, run: 0 },
    ]);
    expect(await counted()).toEqual([3, 1]);
    // Progress: no change.
    await attempts.setProgress({ testId: t1!, attempt: 1 }, 50);
    expect(await counted()).toEqual([3, 1]);
    // An automatic retry and a hand-back: running → queued.
    await attempts.scheduleRetry({ testId: t1!, attempt: 1 }, 'boom');
    await attempts.handBack({ testId: t2!, attempt: 1 });
    expect(await counted()).toEqual([5, 1]);
    // A lost worker's test started again: running → running.
    await attempts.startAttempt(t3!, 0);
    expect(await counted()).toEqual([5, 1]);
    // Finish: one alone, two in one statement.
    await attempts.finishAttempt({ testId: t3!, attempt: 2 }, 'completed', { result: {} });
    await attempts.startAttempts([
      { testId: t1!, run: 0 },
      { testId: t2!, run: 0 },
    ]);
    await attempts.finishAttempts([
      { fence: { testId: t1!, attempt: 2 }, status: 'failed', fields: { errorMessage: 'x' } },
      { fence: { testId: u1!, attempt: 1 }, status: 'completed', fields: {} },
    ]);
    expect(await counted()).toEqual([3, 1]);
    // Cancel a queued test and a running one; the reconciler fails a queued one.
    await tests.cancel(t4!, viewer);
    await tests.cancel(t2!, viewer);
    await attempts.failRun(t5!, 0, 'the job is gone');
    expect(await counted()).toEqual([1, 1]);
    // A manual retry of a failed and of a cancelled test: back to queued.
    await tests.rerun(t1!, viewer);
    await tests.rerun(t4!, viewer);
    expect(await counted()).toEqual([3, 1]);
    // Cleanup deletes finished tests only: no change.
    await sql`UPDATE test_queue SET completed_at = now() - interval '2 hours' WHERE status IN ('completed', 'failed', 'cancelled')`.execute(
      k,
    );
    expect((await tests.deleteFinished(null, 1)).length).toBeGreaterThan(0);
    expect(await counted()).toEqual([3, 1]);
    // A queued test deleted, and a whole workspace with its queue.
    await k.deleteFrom('test_queue').where('test_id', '=', t6!).execute();
    expect(await counted()).toEqual([2, 1]);
    await workspaces.delete(b.id);
    expect(await counted()).toEqual([2, 0]);
    // Its user deleted: the tests stay the workspace's.
    await sql`DELETE FROM users WHERE id = ${user!.id}`.execute(k);
    expect(await counted()).toEqual([2, 0]);
    // Emptied all at once.
    await sql`TRUNCATE test_queue CASCADE`.execute(k);
    expect(await counted()).toEqual([0, 0]);
  });

  it('is caught drifting: a queued test the counter missed is reported', async () => {
    const k = db.kysely;
    await migrateToLatest(k);
    const user = await new UsersRepository(k).create(`${randomUUID()}@example.test`, 'h');
    const workspace = await new WorkspacesRepository(k).create('C', user!.id);
    const quotas = new WorkspaceQuotasRepository(k);
    await k.transaction().execute(async (trx) => {
      await sql`ALTER TABLE test_queue DISABLE TRIGGER test_queue_count_inserted`.execute(trx);
      await new TestsRepository(trx).createMany([newTest(user!.id, workspace.id)]);
      await sql`ALTER TABLE test_queue ENABLE TRIGGER test_queue_count_inserted`.execute(trx);
    });
    expect(await quotas.queuedCountDrift()).toEqual([{ workspaceId: workspace.id, counted: 0, actual: 1 }]);
  });
});
