import { spawnSync } from 'node:child_process';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, migrateToLatest, migrationsApplied } from '../src/index.js';
import { randomUUID } from 'node:crypto';
import {
  TestAttemptsRepository,
  TestsRepository,
  UsersRepository,
  WorkspacesRepository,
} from '../src/index.js';
import type { Db } from '../src/index.js';
import { createTestDatabase } from '../src/testing.js';

describe('database', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let dbs: Db[];

  beforeAll(async () => {
    database = await createTestDatabase();
    dbs = [createDb(database.url), createDb(database.url), createDb(database.url)];
  });
  afterAll(async () => {
    await Promise.all(dbs.map((d) => d.close()));
    await database.drop();
  });

  it('migrates once even when several processes start together', async () => {
    const results = await Promise.all(dbs.map((d) => migrateToLatest(d.kysely)));
    const applied = results.flatMap((r) => r.results ?? []).filter((r) => r.status === 'Success');
    expect(applied.map((r) => r.migrationName)).toEqual([
      '2026_11_29_0001_initial',
      '2026_11_29_0100_queue_runs',
      '2026_12_05_0100_invitations',
      '2026_12_05_0200_sessions',
      '2026_12_05_0400_verdict',
      '2026_12_05_0400_x_rerun_of',
      '2026_12_05_0500_h21_judging',
      '2026_12_05_0500_workspaces',
      '2026_12_05_0600_browser_type',
      '2026_12_05_0700_browser_artifacts',
      '2026_12_05_0810_sharing_shares_audit',
      '2026_12_05_0820_fairshare_dispatch',
      '2026_12_05_0830_monitors',
      '2026_12_05_0840_notify_channels',
      '2026_12_05_0850_quotas_workspace_quotas',
      '2026_12_05_0920_quotas_queued_counts',
      '2026_12_05_0930_platform_maintenance',
      '2026_12_05_0940_alerts_rules_incidents',
      '2026_12_05_0950_alerts_monitor_gone',
      '2026_12_05_0960_notification_preferences',
      '2026_12_06_0501_growth_indexes',
      '2026_12_06_0537_notification_delivery_order',
      '2026_12_06_0606_system_alerts',
      '2026_12_06_1400_url_search_index',
    ]);
    expect(await migrationsApplied(dbs[0]!.kysely)).toBe(true);
    const again = await migrateToLatest(dbs[0]!.kysely);
    expect(again.results).toEqual([]);
  });

  it('runs no query JIT-compiled, on every connection of its pool', async () => {
    const shown = await Promise.all(
      Array.from({ length: 3 }, async () => {
        const client = await dbs[1]!.pool.connect();
        try {
          return (await client.query<{ jit: string }>('SHOW jit')).rows[0]!.jit;
        } finally {
          client.release();
        }
      }),
    );
    expect(shown).toEqual(['off', 'off', 'off']);
  });

  it('sets it before a connection’s first query, so pg warns of nothing (a process of its own)', () => {
    // pg warns once per process of a query sent while another runs: a fresh process sees it.
    const script = `
      const { createDb } = await import(${JSON.stringify(new URL('../src/index.ts', import.meta.url).href)});
      const db = createDb(process.env.DB_URL);
      await Promise.all([db.pool.query('SELECT 1'), db.pool.query('SELECT 2')]);
      await db.close();
      process.exit(0);`;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, DB_URL: database.url },
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('applies a migration dated before one the database already has (they land from parallel branches)', async () => {
    const db = dbs[0]!.kysely;
    // As a data folder that ran 0400_verdict before 0200_sessions landed.
    await sql`DROP TABLE sessions`.execute(db);
    await sql`DELETE FROM kysely_migration WHERE name = '2026_12_05_0200_sessions'`.execute(db);
    expect(await migrationsApplied(db)).toBe(false);
    const result = await migrateToLatest(db);
    expect(result.results?.map((r) => [r.migrationName, r.status])).toEqual([
      ['2026_12_05_0200_sessions', 'Success'],
    ]);
    expect(await migrationsApplied(db)).toBe(true);
  });

  it('has the 26 columns of test_queue with timestamptz timestamps', async () => {
    const cols = await sql<{ column_name: string; data_type: string }>`
      select column_name, data_type from information_schema.columns
      where table_name = 'test_queue' and table_schema = current_schema() order by ordinal_position`.execute(
      dbs[0]!.kysely,
    );
    expect(cols.rows.map((c) => c.column_name)).toEqual([
      'id',
      'test_id',
      'test_type',
      'test_name',
      'url',
      'config',
      'status',
      'priority',
      'progress',
      'user_id',
      'result',
      'error_message',
      'retry_count',
      'created_at',
      'started_at',
      'completed_at',
      'updated_at',
      'attempt',
      'run',
      'verdict',
      'rerun_of',
      'judging',
      'workspace_id',
      'dispatched_at',
      'monitor_id',
      'scheduled_for',
    ]);
    for (const c of cols.rows.filter((c) => c.column_name.endsWith('_at'))) {
      expect(c.data_type).toBe('timestamp with time zone');
    }
  });

  it('makes exactly one admin when the first registrations race', async () => {
    const users = dbs.map((d) => new UsersRepository(d.kysely));
    const created = await Promise.all(users.map((u, i) => u.create(`racer${i}@example.com`, 'h')));
    expect(created.filter((u) => u?.role === 'admin')).toHaveLength(1);
    expect(await users[0]!.create('racer0@example.com', 'h')).toBeUndefined();
  });

  it('enforces status, priority and progress constraints and keeps updated_at current', async () => {
    const kysely = dbs[0]!.kysely;
    const user = await new UsersRepository(kysely).findByEmail('racer1@example.com');
    const tests = new TestsRepository(kysely);
    const attempts = new TestAttemptsRepository(kysely);
    const testId = crypto.randomUUID();
    const row = await tests.create({
      testId,
      testType: 'performance',
      testName: null,
      url: 'http://127.0.0.1/',
      config: {},
      priority: 5,
      userId: user!.id,
    });
    expect(row).toMatchObject({ status: 'queued', progress: 0, retry_count: 0 });
    await expect(
      kysely.updateTable('test_queue').set({ priority: 11 }).where('test_id', '=', testId).execute(),
    ).rejects.toThrow(/check constraint/);
    await expect(
      kysely.updateTable('test_queue').set({ progress: 101 }).where('test_id', '=', testId).execute(),
    ).rejects.toThrow(/check constraint/);
    await expect(
      sql`update test_queue set status = 'weird' where test_id = ${testId}`.execute(kysely),
    ).rejects.toThrow(/check constraint/);

    const running = await attempts.startAttempt(testId, 0);
    expect(running?.status).toBe('running');
    expect(running?.attempt).toBe(1);
    expect(running!.updated_at.getTime()).toBeGreaterThanOrEqual(row.updated_at.getTime());
    // The worker that ran attempt 1 is presumed lost; attempt 2 takes over and fences it out.
    const second = await attempts.startAttempt(testId, 0);
    expect(second).toMatchObject({ status: 'running', attempt: 2, retry_count: 1 });
    expect(await attempts.setProgress({ testId, attempt: 1 }, 50)).toBe(false);
    expect(await attempts.finishAttempt({ testId, attempt: 1 }, 'failed', { errorMessage: 'late' })).toBe(
      false,
    );
    expect(await attempts.finishAttempt({ testId, attempt: 2 }, 'completed', { result: { ok: true } })).toBe(
      true,
    );
    // A second, late writer cannot finish it again.
    expect(await attempts.finishAttempt({ testId, attempt: 2 }, 'failed', { errorMessage: 'late' })).toBe(
      false,
    );
    const done = await tests.findById(testId);
    expect(done).toMatchObject({
      status: 'completed',
      progress: 100,
      result: { ok: true },
      error_message: null,
    });
    expect(await attempts.startAttempt(testId, 0)).toBeUndefined();
    const history = await attempts.attemptsOf(testId);
    expect(history.map((a) => [a.attempt, a.status])).toEqual([
      [1, 'lost'],
      [2, 'completed'],
    ]);
  });

  it('starts and finishes several attempts in one statement each, fenced one by one', async () => {
    const kysely = dbs[0]!.kysely;
    const user = await new UsersRepository(kysely).findByEmail('racer0@example.com');
    const tests = new TestsRepository(kysely);
    const attempts = new TestAttemptsRepository(kysely);
    const ids = Array.from({ length: 4 }, () => crypto.randomUUID());
    for (const testId of ids) {
      await tests.create({
        testId,
        testType: 'performance',
        testName: null,
        url: 'http://127.0.0.1/',
        config: {},
        priority: 5,
        userId: user!.id,
      });
    }
    const [a, b, c, d] = ids as [string, string, string, string];
    const workspace = await new WorkspacesRepository(kysely).findPersonal(user!.id);
    expect(await tests.cancel(c, { id: user!.id, role: 'user', workspaceId: randomUUID() })).toEqual({
      outcome: 'missing',
    });
    await tests.cancel(c, { id: user!.id, role: 'user', workspaceId: workspace!.id });
    // b's earlier attempt was lost: this start is its second.
    await attempts.startAttempt(b, 0);
    const started = await attempts.startAttempts([
      { testId: b, run: 0 },
      { testId: a, run: 0 },
      { testId: c, run: 0 },
      { testId: d, run: 1 },
    ]);
    expect(started.map((r) => r && [r.test_id, r.status, r.attempt, r.retry_count, r.progress])).toEqual([
      [b, 'running', 2, 1, 0],
      [a, 'running', 1, 0, 0],
      undefined,
      undefined,
    ]);
    expect(await attempts.startAttempts([])).toEqual([]);

    const finished = await attempts.finishAttempts([
      { fence: { testId: a, attempt: 1 }, status: 'completed', fields: { result: { ok: true } } },
      { fence: { testId: b, attempt: 1 }, status: 'completed', fields: { result: { stale: true } } },
      { fence: { testId: d, attempt: 1 }, status: 'failed', fields: { errorMessage: 'never started' } },
    ]);
    expect(finished).toEqual([true, false, false]);
    expect(
      await attempts.finishAttempts([
        { fence: { testId: b, attempt: 2 }, status: 'failed', fields: { errorMessage: 'boom' } },
      ]),
    ).toEqual([true]);
    expect(await tests.findById(a)).toMatchObject({
      status: 'completed',
      progress: 100,
      result: { ok: true },
    });
    expect(await tests.findById(b)).toMatchObject({ status: 'failed', result: null, error_message: 'boom' });
    expect((await tests.findById(d))?.status).toBe('queued');
    expect((await attempts.attemptsOf(a)).map((x) => [x.attempt, x.status])).toEqual([[1, 'completed']]);
    expect((await attempts.attemptsOf(b)).map((x) => [x.attempt, x.status, x.error_message])).toEqual([
      [1, 'lost', 'the worker running this attempt was lost'],
      [2, 'failed', 'boom'],
    ]);
    expect(await attempts.attemptsOf(c)).toEqual([]);
  });

  it("sets a deleted user's tests to no owner", async () => {
    const kysely = dbs[0]!.kysely;
    const user = await new UsersRepository(kysely).findByEmail('racer2@example.com');
    const testId = crypto.randomUUID();
    await new TestsRepository(kysely).create({
      testId,
      testType: 'seo',
      testName: 'x',
      url: 'http://127.0.0.1/',
      config: {},
      priority: 5,
      userId: user!.id,
    });
    const before = await new TestsRepository(kysely).ownerOf(testId);
    expect(before).toEqual({ userId: user!.id, workspaceId: expect.any(String) });
    await kysely.deleteFrom('users').where('id', '=', user!.id).execute();
    // The submitter is gone; the test stays in its workspace (#20), where its members still see it.
    expect(await new TestsRepository(kysely).ownerOf(testId)).toEqual({
      userId: null,
      workspaceId: before!.workspaceId,
    });
  });
});
