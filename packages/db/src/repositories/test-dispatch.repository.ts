import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Database, TestRow } from '../types.js';
import { WAITING_LISTS, flightOf, listHeads } from './waiting-lists.js';

/** One workspace's turn at the queue: what it has in flight and the heads of its waiting list. */
export interface WaitingList {
  /** null: tests of users deleted before workspaces existed, who wait as one list. */
  workspaceId: string | null;
  /** Its tests released and not finished (waiting in the queue, retrying, running). */
  inFlight: number;
  /** Its waiting tests, higher priority first, then oldest: at most the `perWorkspace` asked for. */
  heads: TestRow[];
}

/**
 * The dispatcher's side of `test_queue` (DESIGN.md, "Fair scheduling"): the per-workspace waiting
 * lists (queued rows not yet released), and releasing rows. Kept apart from TestsRepository, which
 * answers the API's questions about tests, because this is the queue's one writer of `dispatched_at`.
 */
export class TestDispatchRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Every workspace with waiting tests, its in-flight count and its first `perWorkspace` waiting
   * tests. A test updated within `graceMs` is left out unless named in `announced`: its API may not
   * have published its `queue:job:added` yet, and a worker's `queue:job:started` must not precede it.
   */
  async waitingLists(
    perWorkspace: number,
    graceMs: number,
    announced: string[],
    /** Only tests of these types (one queue's: browser tests have their own). @defaultValue every type */
    testTypes?: readonly string[],
  ): Promise<WaitingList[]> {
    // The waiting lists ({@link WAITING_LISTS}), then each one's heads from `test_queue_waiting`.
    const { rows } = await sql<TestRow & { list: string | null; in_flight: number }>`
      WITH RECURSIVE ${WAITING_LISTS}
      SELECT l.workspace_id AS list, coalesce(f.n, 0) AS in_flight, t.*
        FROM every_list l
        LEFT JOIN flight f ON ${flightOf(sql`l.workspace_id`)}
        CROSS JOIN LATERAL (${listHeads(
          sql`l.workspace_id`,
          sql`q.*`,
          sql`(${testTypes === undefined}::boolean OR q.test_type = ANY(${[...(testTypes ?? [])]}::text[]))
             AND (q.updated_at < now() - ${graceMs}::double precision * interval '1 millisecond'
                  OR q.test_id = ANY(${announced}::uuid[]))`,
          sql`${perWorkspace}`,
        )}) t`.execute(this.#db);
    const lists = new Map<string | null, WaitingList>();
    for (const { list, in_flight, ...row } of rows) {
      let entry = lists.get(list);
      if (!entry) lists.set(list, (entry = { workspaceId: list, inFlight: Number(in_flight), heads: [] }));
      entry.heads.push(row as TestRow);
    }
    return [...lists.values()];
  }

  /**
   * Marks the tests released, those still queued and waiting (a cancelled one, or one another
   * dispatcher took meanwhile, is not): the rows returned are this caller's to enqueue.
   */
  async claim(testIds: string[]): Promise<TestRow[]> {
    if (testIds.length === 0) return [];
    return this.#db
      .updateTable('test_queue')
      .set({ dispatched_at: sql`now()` })
      .where('test_id', 'in', testIds)
      .where('status', '=', 'queued')
      .where('dispatched_at', 'is', null)
      .returningAll()
      .execute();
  }

  /** Tests waiting for their turn (not released yet), every workspace's. */
  async countWaiting(): Promise<number> {
    const row = await this.#db
      .selectFrom('test_queue')
      .select(sql<string>`count(*)`.as('n'))
      .where('status', '=', 'queued')
      .where('dispatched_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Puts claimed tests back on their waiting lists (their jobs could not be added). */
  async unclaim(testIds: string[]): Promise<void> {
    if (testIds.length === 0) return;
    await this.#db
      .updateTable('test_queue')
      .set({ dispatched_at: null })
      .where('test_id', 'in', testIds)
      .where('status', '=', 'queued')
      .execute();
  }

  /**
   * The queue's oldest waiting test (queued, released into the queue or not) and how many wait: what
   * the system alerts' queue check reads. undefined: nothing waits.
   */
  async oldestWaiting(): Promise<{ testId: string; createdAt: Date; waiting: number } | undefined> {
    const row = await sql<{ test_id: string; created_at: Date; waiting: string }>`
      select q.test_id, q.created_at, (select count(*) from test_queue where status = 'queued') as waiting
      from test_queue q where q.status = 'queued'
      order by q.created_at limit 1`.execute(this.#db);
    const first = row.rows[0];
    return first && { testId: first.test_id, createdAt: first.created_at, waiting: Number(first.waiting) };
  }
}
