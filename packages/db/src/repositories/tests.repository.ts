import type { Kysely } from 'kysely';
import type { Role, TestStatus, TestType } from '@crucible/shared';
import type { Database, TestRow } from '../types.js';

export interface NewTest {
  testId: string;
  testType: TestType;
  testName: string | null;
  url: string;
  config: Record<string, unknown>;
  priority: number;
  userId: string;
}

export interface Viewer {
  id: string;
  role: Role;
}

/** Repository of `test_queue`: PostgreSQL is the record of every test, Redis only carries jobs. */
export class TestsRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  create(test: NewTest): Promise<TestRow> {
    return this.#db
      .insertInto('test_queue')
      .values({
        test_id: test.testId,
        test_type: test.testType,
        test_name: test.testName,
        url: test.url,
        config: JSON.stringify(test.config),
        priority: test.priority,
        user_id: test.userId,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
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

  /** queued → running; returns the row, or undefined when the test is no longer runnable (cancelled, finished). */
  markRunning(testId: string): Promise<TestRow | undefined> {
    return this.#db
      .updateTable('test_queue')
      .set({ status: 'running', started_at: new Date(), progress: 0, error_message: null })
      .where('test_id', '=', testId)
      .where('status', 'in', ['queued', 'running'])
      .returningAll()
      .executeTakeFirst();
  }

  async setProgress(testId: string, progress: number): Promise<void> {
    await this.#db
      .updateTable('test_queue')
      .set({ progress: Math.max(0, Math.min(100, Math.round(progress))) })
      .where('test_id', '=', testId)
      .where('status', '=', 'running')
      .execute();
  }

  /** running → a terminal status; false when the row was not running (another writer finished it). */
  async finish(
    testId: string,
    status: Extract<TestStatus, 'completed' | 'failed' | 'cancelled'>,
    fields: { result?: unknown; errorMessage?: string | null },
  ): Promise<boolean> {
    const res = await this.#db
      .updateTable('test_queue')
      .set({
        status,
        completed_at: new Date(),
        ...(status === 'completed' ? { progress: 100 } : {}),
        result: fields.result === undefined ? null : JSON.stringify(fields.result),
        error_message: fields.errorMessage ?? null,
      })
      .where('test_id', '=', testId)
      .where('status', 'in', ['queued', 'running'])
      .executeTakeFirst();
    return res.numUpdatedRows > 0n;
  }
}
