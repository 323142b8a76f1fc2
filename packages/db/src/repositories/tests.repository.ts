import { sql } from 'kysely';
import type { ExpressionBuilder, Kysely, Transaction } from 'kysely';
import type { Role, TestStatus, TestType, Verdict } from '@crucible/shared';
import type { AttemptStatus, Database, TestAttempt, TestRow } from '../types.js';

export interface NewTest {
  testId: string;
  testType: TestType;
  testName: string | null;
  url: string;
  config: Record<string, unknown>;
  priority: number;
  userId: string;
  /** The test this one runs again. @defaultValue null */
  rerunOf?: string | null;
}

/** A test of a batch ({@link TestsRepository.createMany}), with the idempotency key it was sent with. */
export interface NewBatchTest extends NewTest {
  idempotency?: { key: string; requestHash: string };
}

/** The outcome of {@link TestsRepository.createMany}, one per test in the order given. */
export type BatchOutcome =
  | { created: true; row: TestRow }
  /** The key was used within 24 h: the earlier test (null when it vanished meanwhile: try again). */
  | { created: false; earlier: { testId: string; requestHash: string } | null };

/** Queued tests by priority and type: the counts a batch's queue positions are taken from. */
export interface QueuedCount {
  priority: number;
  testType: TestType;
  n: number;
}

export interface Viewer {
  id: string;
  role: Role;
}

/**
 * The right to write a test's status: the attempt a worker started. A write whose attempt is no
 * longer the row's current one (the worker lost its lock and another took over, or the test was
 * cancelled or re-run meanwhile) changes nothing.
 */
export interface Fence {
  testId: string;
  attempt: number;
}

export interface TestListFilter {
  status?: TestStatus;
  testType?: TestType;
  /** Case-insensitive substring of the URL. */
  urlContains?: string;
  /** Admins only: one user's tests. */
  userId?: string;
  /** Admins only: the tests of the user with this (lower-case) email. */
  ownerEmail?: string;
  /** The `id` of the last item of the previous page. */
  afterId?: string;
  limit: number;
}

export type StatusCounts = Record<TestStatus, number>;

/** How long tests of each type took recently, and what is ahead of a queued test. */
export interface QueueSnapshot {
  /** Queued tests that run before this one, by type. */
  aheadByType: Partial<Record<TestType, number>>;
  /** Seconds each running test has run so far, with its type. */
  running: { testType: TestType; elapsedSec: number }[];
  /** Mean seconds of the most recent completed tests of each type (types without history are absent). */
  meanSecByType: Partial<Record<TestType, number>>;
}

/** A test whose attempt just started; `lost_previous` when an earlier attempt's worker was lost. */
export type StartedRow = TestRow & { lost_previous: boolean };

/** What a finished attempt stores beside its status. */
export interface FinishFields {
  result?: unknown;
  /** A completed test's verdict (ignored for a failed one, which has none). */
  verdict?: Verdict;
  errorMessage?: string | null;
}

export type FinishedStatus = Extract<TestStatus, 'completed' | 'failed' | 'cancelled'>;

const UNSETTLED: TestStatus[] = ['queued', 'running'];
const FINISHED: TestStatus[] = ['completed', 'failed', 'cancelled'];
/** Completed tests per type that the mean duration is taken over. */
const DURATION_SAMPLE = 50;

class KeyTaken extends Error {}

const LOST = 'the worker running this attempt was lost';

/** The condition of every fenced write: the current attempt of a running test. */
function holds(fence: Fence) {
  return (eb: ExpressionBuilder<Database, 'test_queue'>) =>
    eb.and([
      eb('test_id', '=', fence.testId),
      eb('status', '=', 'running'),
      eb('attempt', '=', fence.attempt),
    ]);
}

/** Repository of `test_queue`: PostgreSQL is the record of every test, Redis only carries jobs. */
export class TestsRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  create(test: NewTest): Promise<TestRow> {
    return this.#insert(this.#db, test);
  }

  /**
   * Creates the test unless the user already used `key` within 24 hours: then nothing is written
   * and the earlier test id and request hash come back. Concurrent calls with one key serialise on
   * the key's primary key, so exactly one of them creates a test.
   */
  async createIdempotent(
    test: NewTest,
    idempotency: { key: string; requestHash: string },
  ): Promise<{ created: true; row: TestRow } | { created: false; testId: string; requestHash: string }> {
    for (;;) {
      try {
        const row = await this.#db.transaction().execute(async (trx) => {
          const row = await this.#insert(trx, test);
          const key = await trx
            .insertInto('idempotency_keys')
            .values({
              user_id: test.userId,
              key: idempotency.key,
              request_hash: idempotency.requestHash,
              test_id: test.testId,
            })
            .onConflict((oc) =>
              oc
                .columns(['user_id', 'key'])
                .doUpdateSet({
                  request_hash: (eb) => eb.ref('excluded.request_hash'),
                  test_id: (eb) => eb.ref('excluded.test_id'),
                  created_at: sql`now()`,
                })
                // An expired key is reused as if it were new.
                .where('idempotency_keys.created_at', '<', sql<Date>`now() - interval '24 hours'`),
            )
            .returning('test_id')
            .executeTakeFirst();
          if (!key) throw new KeyTaken();
          return row;
        });
        return { created: true, row };
      } catch (err) {
        if (!(err instanceof KeyTaken)) throw err;
      }
      const existing = await this.#db
        .selectFrom('idempotency_keys')
        .select(['test_id', 'request_hash'])
        .where('user_id', '=', test.userId)
        .where('key', '=', idempotency.key)
        .executeTakeFirst();
      // Gone between the two statements (its test was deleted): try again from the start.
      if (existing) return { created: false, testId: existing.test_id, requestHash: existing.request_hash };
    }
  }

  /**
   * Creates many tests in ONE statement (the API's group commit, DESIGN.md "Accepting a test").
   * A test with an idempotency key is inserted only if its key is free (or expired); otherwise
   * nothing of it is written and the earlier test comes back. The keys of one call must be
   * distinct per user (the caller collapses repeats). Concurrent calls with one key serialise on
   * the key's primary key, so exactly one of them creates a test.
   */
  async createMany(tests: NewBatchTest[]): Promise<BatchOutcome[]> {
    if (tests.length === 0) return [];
    const col = <T>(f: (t: NewBatchTest) => T) => tests.map(f);
    const input = sql`SELECT * FROM unnest(
      ${col((t) => t.testId)}::uuid[], ${col((t) => t.testType)}::text[], ${col((t) => t.testName)}::text[],
      ${col((t) => t.url)}::text[], ${col((t) => JSON.stringify(t.config))}::jsonb[],
      ${col((t) => t.priority)}::smallint[], ${col((t) => t.userId)}::uuid[],
      ${col((t) => t.idempotency?.key ?? null)}::text[], ${col((t) => t.idempotency?.requestHash ?? null)}::text[],
      ${col((t) => t.rerunOf ?? null)}::uuid[]
    ) WITH ORDINALITY AS i(test_id, test_type, test_name, url, config, priority, user_id, key, request_hash, rerun_of, ord)`;
    const keyed = tests.some((t) => t.idempotency);
    // Without keys: a plain multi-row insert. With keys: the keys are claimed in a CTE of the same
    // statement and only the tests whose key was won are inserted (the key's foreign key to its
    // test is checked at the end of the statement, when both rows exist).
    const { rows } = keyed
      ? await sql<TestRow>`
          WITH input AS (${input}),
          claimed AS (
            INSERT INTO idempotency_keys (user_id, key, request_hash, test_id)
            SELECT user_id, key, request_hash, test_id FROM input WHERE key IS NOT NULL
            ON CONFLICT (user_id, key) DO UPDATE
              SET request_hash = excluded.request_hash, test_id = excluded.test_id, created_at = now()
              -- An expired key is reused as if it were new.
              WHERE idempotency_keys.created_at < now() - interval '24 hours'
            RETURNING test_id
          )
          INSERT INTO test_queue (test_id, test_type, test_name, url, config, priority, user_id, rerun_of)
          SELECT test_id, test_type, test_name, url, config, priority, user_id, rerun_of FROM input
          WHERE key IS NULL OR test_id IN (SELECT test_id FROM claimed)
          ORDER BY ord
          RETURNING *`.execute(this.#db)
      : await sql<TestRow>`
          WITH input AS (${input})
          INSERT INTO test_queue (test_id, test_type, test_name, url, config, priority, user_id, rerun_of)
          SELECT test_id, test_type, test_name, url, config, priority, user_id, rerun_of FROM input
          ORDER BY ord
          RETURNING *`.execute(this.#db);
    const created = new Map(rows.map((r) => [r.test_id, r]));
    const lost = tests.filter((t) => !created.has(t.testId));
    const earlier = new Map<string, { testId: string; requestHash: string }>();
    if (lost.length > 0) {
      const found = await sql<{ user_id: string; key: string; test_id: string; request_hash: string }>`
        SELECT k.user_id, k.key, k.test_id, k.request_hash
        FROM idempotency_keys k
        JOIN unnest(${lost.map((t) => t.userId)}::uuid[], ${lost.map((t) => t.idempotency!.key)}::text[])
          AS l(user_id, key) ON k.user_id = l.user_id AND k.key = l.key`.execute(this.#db);
      for (const r of found.rows) {
        earlier.set(`${r.user_id}\0${r.key}`, { testId: r.test_id, requestHash: r.request_hash });
      }
    }
    return tests.map((t): BatchOutcome => {
      const row = created.get(t.testId);
      if (row) return { created: true, row };
      // Gone between the two statements (its test was deleted): null, the caller tries again.
      return { created: false, earlier: earlier.get(`${t.userId}\0${t.idempotency!.key}`) ?? null };
    });
  }

  /** Undoes a submission whose job could not be enqueued (its idempotency key goes with it). */
  async delete(testId: string): Promise<void> {
    await this.#db.deleteFrom('test_queue').where('test_id', '=', testId).execute();
  }

  /** Undoes a batch of submissions whose jobs could not be enqueued (their keys go with them). */
  async deleteMany(testIds: string[]): Promise<void> {
    if (testIds.length === 0) return;
    await this.#db.deleteFrom('test_queue').where('test_id', 'in', testIds).execute();
  }

  findById(testId: string): Promise<TestRow | undefined> {
    return this.#db.selectFrom('test_queue').selectAll().where('test_id', '=', testId).executeTakeFirst();
  }

  /** The test if the viewer may see it (owner, or admin); otherwise undefined, exactly like a missing one. */
  findVisible(testId: string, viewer: Viewer): Promise<TestRow | undefined> {
    let q = this.#db.selectFrom('test_queue').selectAll().where('test_id', '=', testId);
    if (viewer.role !== 'admin') q = q.where('user_id', '=', viewer.id);
    return q.executeTakeFirst();
  }

  /** The owner of a test, for channel authorisation; null when the test does not exist. */
  async ownerOf(testId: string): Promise<{ userId: string | null } | null> {
    const row = await this.#db
      .selectFrom('test_queue')
      .select('user_id')
      .where('test_id', '=', testId)
      .executeTakeFirst();
    return row ? { userId: row.user_id } : null;
  }

  /**
   * Starts the next attempt of run `run`: queued (or running, when the previous attempt's worker
   * was lost) → running with `attempt + 1`, which becomes the fence of every later write. Returns
   * undefined when the test is no longer runnable (cancelled, finished, or re-run since).
   */
  async startAttempt(testId: string, run: number): Promise<TestRow | undefined> {
    // One statement, one round trip: the row, the close of earlier open attempts and the new
    // attempt's history row commit together.
    const row = await this.#db
      .with('started', (db) =>
        db
          .updateTable('test_queue')
          .set((eb) => ({
            status: 'running',
            attempt: eb('attempt', '+', 1),
            retry_count: sql<number>`CASE WHEN status = 'running' THEN retry_count + 1 ELSE retry_count END`,
            started_at: new Date(),
            progress: 0,
            error_message: null,
          }))
          .where('test_id', '=', testId)
          .where('run', '=', run)
          .where('status', 'in', UNSETTLED)
          .returningAll(),
      )
      .with('closed', (db) =>
        db
          .updateTable('test_attempts')
          .set({ status: 'lost', error_message: LOST, finished_at: new Date() })
          .where('test_id', 'in', (eb) => eb.selectFrom('started').select('test_id'))
          .where('finished_at', 'is', null)
          .returning('test_attempts.attempt'),
      )
      .with('opened', (db) =>
        db
          .insertInto('test_attempts')
          .columns(['test_id', 'attempt', 'run', 'status'])
          .expression((eb) =>
            eb
              .selectFrom('started')
              .select(['test_id', 'attempt', 'run', sql<string>`'running'`.as('status')]),
          )
          .returning('test_attempts.attempt'),
      )
      .selectFrom('started')
      .selectAll()
      .executeTakeFirst();
    // The statement sees attempts committed before it began: one opened by a worker that started
    // this test in the same instant (it waited for that worker's row lock) is closed here.
    if (row && row.attempt > 1) {
      await this.#db
        .updateTable('test_attempts')
        .set({ status: 'lost', error_message: LOST, finished_at: new Date() })
        .where('test_id', '=', testId)
        .where('attempt', '<', row.attempt)
        .where('finished_at', 'is', null)
        .execute();
    }
    return row;
  }

  /** Stores progress; false when the fence no longer holds (the caller should stop). */
  async setProgress(fence: Fence, progress: number): Promise<boolean> {
    const res = await this.#db
      .updateTable('test_queue')
      .set({ progress: Math.max(0, Math.min(100, Math.round(progress))) })
      .where(holds(fence))
      .executeTakeFirst();
    return res.numUpdatedRows > 0n;
  }

  /** running → completed or failed, for the fenced attempt only; false when the fence no longer holds. */
  async finishAttempt(
    fence: Fence,
    status: Extract<TestStatus, 'completed' | 'failed'>,
    fields: FinishFields,
  ): Promise<boolean> {
    const errorMessage = fields.errorMessage ?? null;
    const now = new Date();
    // One statement, one round trip: the attempt's history row is closed only if the fence held.
    const row = await this.#db
      .with('finished', (db) =>
        db
          .updateTable('test_queue')
          .set({
            status,
            completed_at: now,
            ...(status === 'completed' ? { progress: 100 } : {}),
            result: fields.result === undefined ? null : JSON.stringify(fields.result),
            verdict: status === 'completed' ? (fields.verdict ?? null) : null,
            error_message: errorMessage,
          })
          .where(holds(fence))
          .returning('test_id'),
      )
      .with('closed', (db) =>
        db
          .updateTable('test_attempts')
          .set({ status, error_message: errorMessage, finished_at: now })
          .where('test_id', 'in', (eb) => eb.selectFrom('finished').select('test_id'))
          .where('attempt', '=', fence.attempt)
          .returning('test_attempts.attempt'),
      )
      .selectFrom('finished')
      .select('test_id')
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * {@link startAttempt} for several tests in one statement (a worker's group commit); one entry
   * per item, in order. Each test may appear once.
   */
  async startAttempts(items: readonly { testId: string; run: number }[]): Promise<(StartedRow | undefined)[]> {
    if (items.length === 0) return [];
    const values = sql.join(items.map((i) => sql`(${i.testId}::uuid, ${i.run}::int)`));
    const { rows } = await sql<StartedRow>`
      WITH v (test_id, run) AS (VALUES ${values}),
      started AS (
        UPDATE test_queue q
           SET status = 'running',
               attempt = q.attempt + 1,
               retry_count = CASE WHEN q.status = 'running' THEN q.retry_count + 1 ELSE q.retry_count END,
               started_at = now(),
               progress = 0,
               error_message = NULL
          FROM v
         WHERE q.test_id = v.test_id AND q.run = v.run AND q.status IN ('queued', 'running')
        RETURNING q.*
      ),
      closed AS (
        UPDATE test_attempts a
           SET status = 'lost', error_message = ${LOST}, finished_at = now()
          FROM started s
         WHERE a.test_id = s.test_id AND a.finished_at IS NULL
        RETURNING a.test_id
      ),
      opened AS (
        INSERT INTO test_attempts (test_id, attempt, run, status)
        SELECT test_id, attempt, run, 'running' FROM started
        RETURNING test_id
      )
      SELECT s.*, EXISTS (SELECT 1 FROM closed c WHERE c.test_id = s.test_id) AS lost_previous
        FROM started s`.execute(this.#db);
    // As in startAttempt: attempts that committed while the statement waited for their rows.
    const later = rows.filter((r) => r.attempt > 1);
    if (later.length > 0) {
      await sql`
        UPDATE test_attempts a
           SET status = 'lost', error_message = ${LOST}, finished_at = now()
          FROM (VALUES ${sql.join(later.map((r) => sql`(${r.test_id}::uuid, ${r.attempt}::int)`))}) AS r (test_id, attempt)
         WHERE a.test_id = r.test_id AND a.attempt < r.attempt AND a.finished_at IS NULL`.execute(this.#db);
    }
    const byId = new Map(rows.map((r) => [r.test_id, r]));
    return items.map((i) => byId.get(i.testId));
  }

  /**
   * {@link finishAttempt} for several attempts in one statement (a worker's group commit); true
   * for each whose fence held, in order. Each test may appear once.
   */
  async finishAttempts(
    items: readonly {
      fence: Fence;
      status: Extract<TestStatus, 'completed' | 'failed'>;
      fields: FinishFields;
    }[],
  ): Promise<boolean[]> {
    if (items.length === 0) return [];
    const values = sql.join(
      items.map(
        (i) =>
          sql`(${i.fence.testId}::uuid, ${i.fence.attempt}::int, ${i.status}::text, ${
            i.fields.result === undefined ? null : JSON.stringify(i.fields.result)
          }::jsonb, ${i.fields.errorMessage ?? null}::text, ${
            i.status === 'completed' ? (i.fields.verdict ?? null) : null
          }::text)`,
      ),
    );
    const { rows } = await sql<{ test_id: string }>`
      WITH v (test_id, attempt, status, result, error_message, verdict) AS (VALUES ${values}),
      finished AS (
        UPDATE test_queue q
           SET status = v.status,
               completed_at = now(),
               progress = CASE WHEN v.status = 'completed' THEN 100 ELSE q.progress END,
               result = v.result,
               verdict = v.verdict,
               error_message = v.error_message
          FROM v
         WHERE q.test_id = v.test_id AND q.status = 'running' AND q.attempt = v.attempt
        RETURNING q.test_id, q.attempt, v.status, v.error_message
      ),
      closed AS (
        UPDATE test_attempts a
           SET status = f.status, error_message = f.error_message, finished_at = now()
          FROM finished f
         WHERE a.test_id = f.test_id AND a.attempt = f.attempt
        RETURNING a.test_id
      )
      SELECT test_id FROM finished`.execute(this.#db);
    const held = new Set(rows.map((r) => r.test_id));
    return items.map((i) => held.has(i.fence.testId));
  }

  /** A transient failure with attempts left: running → queued, `retry_count + 1`; undefined without the fence. */
  async scheduleRetry(fence: Fence, errorMessage: string): Promise<TestRow | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('test_queue')
        .set((eb) => ({
          status: 'queued',
          retry_count: eb('retry_count', '+', 1),
          error_message: errorMessage,
        }))
        .where(holds(fence))
        .returningAll()
        .executeTakeFirst();
      if (row) await this.#closeAttempt(trx, fence, 'retrying', errorMessage);
      return row;
    });
  }

  /** A draining worker gives the test back: running → queued, no attempt used up. */
  async handBack(fence: Fence): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      const res = await trx
        .updateTable('test_queue')
        .set({ status: 'queued', progress: 0 })
        .where(holds(fence))
        .executeTakeFirst();
      if (res.numUpdatedRows === 0n) return false;
      await this.#closeAttempt(trx, fence, 'handed_back', 'the worker shut down');
      return true;
    });
  }

  /**
   * queued/running → cancelled. `missing` when the viewer cannot see the test, `finished` when it
   * had already ended (or ended concurrently).
   */
  async cancel(
    testId: string,
    viewer: Viewer,
  ): Promise<{ outcome: 'cancelled'; row: TestRow } | { outcome: 'missing' | 'finished' }> {
    const row = await this.#db.transaction().execute(async (trx) => {
      let q = trx
        .updateTable('test_queue')
        .set({ status: 'cancelled', completed_at: new Date() })
        .where('test_id', '=', testId)
        .where('status', 'in', UNSETTLED);
      if (viewer.role !== 'admin') q = q.where('user_id', '=', viewer.id);
      const row = await q.returningAll().executeTakeFirst();
      if (row) await this.#closeOpenAttempts(trx, testId, 'cancelled', 'cancelled by the user');
      return row;
    });
    if (row) return { outcome: 'cancelled', row };
    // After the transaction, never inside it on another connection: the embedded PostgreSQL is
    // one session, so a second connection waits for the transaction that waits for it.
    const visible = await this.findVisible(testId, viewer);
    return { outcome: visible ? 'finished' : 'missing' };
  }

  /**
   * failed/cancelled → queued as run `run + 1`, with a fresh result and retry count; earlier
   * attempts stay in `test_attempts`. `conflict` when the test is not failed or cancelled.
   */
  async rerun(
    testId: string,
    viewer: Viewer,
  ): Promise<{ outcome: 'queued'; row: TestRow } | { outcome: 'missing' | 'conflict' }> {
    let q = this.#db
      .updateTable('test_queue')
      .set((eb) => ({
        status: 'queued',
        run: eb('run', '+', 1),
        retry_count: 0,
        progress: 0,
        result: null,
        verdict: null,
        error_message: null,
        started_at: null,
        completed_at: null,
      }))
      .where('test_id', '=', testId)
      .where('status', 'in', ['failed', 'cancelled']);
    if (viewer.role !== 'admin') q = q.where('user_id', '=', viewer.id);
    const row = await q.returningAll().executeTakeFirst();
    if (row) return { outcome: 'queued', row };
    return { outcome: (await this.findVisible(testId, viewer)) ? 'conflict' : 'missing' };
  }

  /**
   * Ends run `run` of an unsettled test as failed without a fence: for the reconciler, when the
   * queue says the run's job is over but no worker recorded the outcome.
   */
  async failRun(testId: string, run: number, errorMessage: string): Promise<TestRow | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('test_queue')
        .set({ status: 'failed', completed_at: new Date(), error_message: errorMessage })
        .where('test_id', '=', testId)
        .where('run', '=', run)
        .where('status', 'in', UNSETTLED)
        .returningAll()
        .executeTakeFirst();
      if (row) await this.#closeOpenAttempts(trx, testId, 'failed', errorMessage);
      return row;
    });
  }

  /**
   * Unsettled tests the reconciler should look at: queued for longer than `queuedGraceMs`
   * (the API enqueues right after inserting) or running without a write for `runningStaleMs`.
   */
  findUnsettled(options: { queuedGraceMs: number; runningStaleMs: number; limit: number }) {
    const older = (ms: number) => sql<Date>`now() - ${ms}::double precision * interval '1 millisecond'`;
    return this.#db
      .selectFrom('test_queue')
      .select(['test_id', 'test_type', 'url', 'config', 'priority', 'user_id', 'status', 'run'])
      .where((eb) =>
        eb.or([
          eb.and([eb('status', '=', 'queued'), eb('updated_at', '<', older(options.queuedGraceMs))]),
          eb.and([eb('status', '=', 'running'), eb('updated_at', '<', older(options.runningStaleMs))]),
        ]),
      )
      .orderBy('updated_at')
      .limit(options.limit)
      .execute();
  }

  /** The tests that ran this one again and the viewer may see, newest first (at most `limit`). */
  async rerunsOf(testId: string, viewer: Viewer, limit = 20): Promise<string[]> {
    let q = this.#db.selectFrom('test_queue').select('test_id').where('rerun_of', '=', testId);
    if (viewer.role !== 'admin') q = q.where('user_id', '=', viewer.id);
    const rows = await q.orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => r.test_id);
  }

  attemptsOf(testId: string): Promise<TestAttempt[]> {
    return this.#db
      .selectFrom('test_attempts')
      .selectAll()
      .where('test_id', '=', testId)
      .orderBy('attempt')
      .execute();
  }

  /** One page of the viewer's tests (admins: everyone's), newest first; `nextAfterId` when there is more. */
  async list(
    viewer: Viewer,
    filter: TestListFilter,
  ): Promise<{ rows: (TestRow & { owner_email: string | null })[]; nextAfterId: string | null }> {
    let q = this.#db
      .selectFrom('test_queue')
      .leftJoin('users', 'users.id', 'test_queue.user_id')
      .selectAll('test_queue')
      .select('users.email as owner_email');
    if (viewer.role !== 'admin') q = q.where('test_queue.user_id', '=', viewer.id);
    else if (filter.userId) q = q.where('test_queue.user_id', '=', filter.userId);
    if (filter.ownerEmail) q = q.where('users.email', '=', filter.ownerEmail);
    if (filter.status) q = q.where('test_queue.status', '=', filter.status);
    if (filter.testType) q = q.where('test_queue.test_type', '=', filter.testType);
    if (filter.urlContains) {
      const pattern = `%${filter.urlContains.replace(/[\\%_]/g, '\\$&')}%`;
      q = q.where('test_queue.url', 'ilike', pattern);
    }
    if (filter.afterId) q = q.where('test_queue.id', '<', filter.afterId);
    const rows = await q
      .orderBy('test_queue.id', 'desc')
      .limit(filter.limit + 1)
      .execute();
    const more = rows.length > filter.limit;
    if (more) rows.pop();
    return { rows, nextAfterId: more ? rows.at(-1)!.id : null };
  }

  /** The user's queued and running tests, running first, then in the order they will start. */
  unfinishedOf(userId: string, limit: number): Promise<TestRow[]> {
    return this.#db
      .selectFrom('test_queue')
      .selectAll()
      .where('user_id', '=', userId)
      .where('status', 'in', ['queued', 'running'])
      .orderBy(sql`status = 'running'`, 'desc')
      .orderBy('priority', 'desc')
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  /** The user's tests by status, every status present (0 when none). */
  async countByStatus(userId: string): Promise<StatusCounts> {
    const rows = await this.#db
      .selectFrom('test_queue')
      .select(['status', sql<string>`count(*)`.as('n')])
      .where('user_id', '=', userId)
      .groupBy('status')
      .execute();
    const counts: StatusCounts = { queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };
    for (const r of rows) counts[r.status] = Number(r.n);
    return counts;
  }

  /** Deletes finished tests that ended more than `olderThanHours` ago: one user's, or everyone's (null). */
  async deleteFinished(
    userId: string | null,
    olderThanHours: number,
  ): Promise<{ test_id: string; user_id: string | null }[]> {
    let q = this.#db
      .deleteFrom('test_queue')
      .where('status', 'in', FINISHED)
      .where(
        sql<Date>`coalesce(completed_at, updated_at)`,
        '<',
        sql<Date>`now() - ${olderThanHours}::double precision * interval '1 hour'`,
      );
    if (userId !== null) q = q.where('user_id', '=', userId);
    return q.returning(['test_id', 'user_id']).execute();
  }

  /** Idempotency keys live 24 hours; older ones are only dead weight. */
  async deleteExpiredKeys(): Promise<number> {
    const res = await this.#db
      .deleteFrom('idempotency_keys')
      .where('created_at', '<', sql<Date>`now() - interval '24 hours'`)
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  /** What the ETA of a queued test is computed from (see DESIGN.md, "Queue position and ETA"). */
  async queueSnapshot(row: Pick<TestRow, 'id' | 'priority'>): Promise<QueueSnapshot> {
    const [ahead, rest] = await Promise.all([
      this.#db
        .selectFrom('test_queue')
        .select(['test_type', sql<string>`count(*)`.as('n')])
        .where('status', '=', 'queued')
        .where((eb) =>
          eb.or([
            eb('priority', '>', row.priority),
            eb.and([eb('priority', '=', row.priority), eb('id', '<', row.id)]),
          ]),
        )
        .groupBy('test_type')
        .execute(),
      this.runningAndMeans(),
    ]);
    return { aheadByType: Object.fromEntries(ahead.map((r) => [r.test_type, Number(r.n)])), ...rest };
  }

  /**
   * Queued tests by priority and type, but for `except` (tests the caller is placing itself): one
   * grouped count for a whole batch, whose rows' positions follow from it (the API's group commit).
   */
  async queuedExcept(except: string[]): Promise<QueuedCount[]> {
    const rows = await this.#db
      .selectFrom('test_queue')
      .select(['priority', 'test_type', sql<string>`count(*)`.as('n')])
      .where('status', '=', 'queued')
      .where(sql<boolean>`test_id <> ALL(${except}::uuid[])`)
      .groupBy(['priority', 'test_type'])
      .execute();
    return rows.map((r) => ({ priority: r.priority, testType: r.test_type, n: Number(r.n) }));
  }

  /** The running tests' elapsed time and the recent mean duration per type (the rest of an ETA). */
  async runningAndMeans(): Promise<Omit<QueueSnapshot, 'aheadByType'>> {
    const [running, means] = await Promise.all([
      this.#db
        .selectFrom('test_queue')
        .select([
          'test_type',
          sql<number>`extract(epoch from now() - coalesce(started_at, now()))::float8`.as('elapsed'),
        ])
        .where('status', '=', 'running')
        .limit(1000)
        .execute(),
      sql<{ test_type: TestType; mean: number }>`
        SELECT test_type, avg(extract(epoch from completed_at - started_at))::float8 AS mean
        FROM (
          SELECT test_type, started_at, completed_at,
                 row_number() OVER (PARTITION BY test_type ORDER BY completed_at DESC) AS n
          FROM test_queue
          WHERE status = 'completed' AND started_at IS NOT NULL AND completed_at IS NOT NULL
        ) recent
        WHERE n <= ${DURATION_SAMPLE}
        GROUP BY test_type`.execute(this.#db),
    ]);
    return {
      running: running.map((r) => ({ testType: r.test_type, elapsedSec: Number(r.elapsed) })),
      meanSecByType: Object.fromEntries(means.rows.map((r) => [r.test_type, Number(r.mean)])),
    };
  }

  #insert(db: Kysely<Database>, test: NewTest): Promise<TestRow> {
    return db
      .insertInto('test_queue')
      .values({
        test_id: test.testId,
        test_type: test.testType,
        test_name: test.testName,
        url: test.url,
        config: JSON.stringify(test.config),
        priority: test.priority,
        user_id: test.userId,
        rerun_of: test.rerunOf ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async #closeAttempt(
    trx: Transaction<Database>,
    fence: Fence,
    status: AttemptStatus,
    errorMessage: string | null,
  ): Promise<void> {
    await trx
      .updateTable('test_attempts')
      .set({ status, error_message: errorMessage, finished_at: new Date() })
      .where('test_id', '=', fence.testId)
      .where('attempt', '=', fence.attempt)
      .execute();
  }

  async #closeOpenAttempts(
    trx: Transaction<Database>,
    testId: string,
    status: AttemptStatus,
    errorMessage: string,
  ): Promise<void> {
    await trx
      .updateTable('test_attempts')
      .set({ status, error_message: errorMessage, finished_at: new Date() })
      .where('test_id', '=', testId)
      .where('finished_at', 'is', null)
      .execute();
  }
}
