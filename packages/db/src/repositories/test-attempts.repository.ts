import { sql } from 'kysely';
import type { ExpressionBuilder, Kysely, Transaction } from 'kysely';
import type { TestStatus, Verdict } from '@crucible/contracts';
import type { AttemptStatus, Database, TestAttempt, TestRow } from '../types.js';
import { UNSETTLED, closeOpenAttempts } from './attempt-history.js';

/**
 * The right to write a test's status: the attempt a worker started. A write whose attempt is no
 * longer the row's current one (the worker lost its lock and another took over, or the test was
 * cancelled or re-run meanwhile) changes nothing.
 */
export interface Fence {
  testId: string;
  attempt: number;
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

/**
 * Repository of `test_attempts`, the history of every attempt, and of the attempt's writes to its
 * test's row: each transition (start, progress, finish, retry, hand back, the reconciler's failure)
 * writes the row and the attempt's record in one statement or transaction, fenced by the attempt.
 */
export class TestAttemptsRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  attemptsOf(testId: string): Promise<TestAttempt[]> {
    return this.#db
      .selectFrom('test_attempts')
      .selectAll()
      .where('test_id', '=', testId)
      .orderBy('attempt')
      .execute();
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
  async startAttempts(
    items: readonly { testId: string; run: number }[],
  ): Promise<(StartedRow | undefined)[]> {
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
      if (row) await closeOpenAttempts(trx, testId, 'failed', errorMessage);
      return row;
    });
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
}
