import { sql } from 'kysely';
import type { Kysely, RawBuilder } from 'kysely';
import { FINISHED_STATUSES, TestTypes, queueNameOf } from '@crucible/contracts';
import type { Judging, MetricValue, Role, TestStatus, TestType } from '@crucible/contracts';
import type { Database, TestRow } from '../types.js';
import { UNSETTLED, closeOpenAttempts } from './attempt-history.js';
import { WAITING_LISTS, flightOf, listHeads } from './waiting-lists.js';

export interface NewTest {
  testId: string;
  testType: TestType;
  testName: string | null;
  url: string;
  config: Record<string, unknown>;
  priority: number;
  userId: string;
  /** The workspace that owns the test. @defaultValue the user's personal workspace */
  workspaceId?: string | null;
  /** The test this one runs again. @defaultValue null */
  rerunOf?: string | null;
  /** How it is judged (thresholds, runs, baseline). @defaultValue null: the defaults */
  judging?: Judging | null;
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

/** Who reads or changes tests: a user acting in one workspace (an instance admin reaches every workspace's). */
export interface Viewer {
  id: string;
  role: Role;
  workspaceId: string;
}

/**
 * URLs up to this many bytes are in `test_queue_workspace_search_idx` (a B-tree entry must fit a
 * third of a page; a stored URL is at most a few kilobytes). Fixed by that index's predicate.
 */
export const SEARCH_INDEX_URL_BYTES = 2000;

/** An `ILIKE` pattern matching any text that contains `text` (its `%`, `_` and `\\` taken literally). */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, '\\$&')}%`;
}

export interface TestListFilter {
  status?: TestStatus;
  testType?: TestType;
  /** Case-insensitive substring of the URL. */
  urlContains?: string;
  /** The runs of one monitor. */
  monitorId?: string;
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
/** What {@link TestsRepository.queueSnapshot} needs of a test. */
export type SnapshotRow = Pick<
  TestRow,
  'id' | 'priority' | 'status' | 'test_type' | 'workspace_id' | 'dispatched_at'
>;

export interface QueueSnapshot {
  /** Queued tests that run before this one, by type. */
  aheadByType: Partial<Record<TestType, number>>;
  /**
   * Of those, other workspaces' waiting tests that take their turn first (fair scheduling); 0 or
   * absent when none is.
   */
  otherWorkspacesAhead?: number;
  /** Seconds each running test has run so far, with its type. */
  running: { testType: TestType; elapsedSec: number }[];
  /** Mean seconds of the most recent completed tests of each type (types without history are absent). */
  meanSecByType: Partial<Record<TestType, number>>;
}

/** Completed tests per type that the mean duration is taken over. */
const DURATION_SAMPLE = 50;

/**
 * Repository of `test_queue`: PostgreSQL is the record of every test, Redis only carries jobs. The
 * writes of a running attempt are {@link TestAttemptsRepository}'s, the keys' expiry
 * {@link IdempotencyKeysRepository}'s; a batch claims its keys in its own INSERT (one statement).
 */
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
        workspace_id: (eb) =>
          test.workspaceId
            ? eb.val(test.workspaceId)
            : eb.selectFrom('workspaces').select('id').where('personal_of', '=', test.userId),
        rerun_of: test.rerunOf ?? null,
        judging: test.judging ? JSON.stringify(test.judging) : null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
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
    return this.#outcomes(tests, (await this.#insertBatch(tests)).rows);
  }

  /**
   * {@link createMany} if every workspace of `room` has at most that many tests queued (its
   * quota less what the batch adds to it), checked in the same statement under each workspace's
   * queued counter (`workspace_queue_counts`, locked in id order until the statement commits);
   * otherwise nothing is written, no key claimed, and the answer is undefined. A workspace without
   * a counter row fails the check: the caller then admits under the counters' lock.
   */
  async createManyWithin(
    tests: NewBatchTest[],
    room: ReadonlyMap<string, number>,
  ): Promise<BatchOutcome[] | undefined> {
    if (tests.length === 0) return [];
    const ids = [...room.keys()];
    const condition = sql`(SELECT count(*) FROM guard) = ${ids.length}`;
    const cte = sql`guard AS MATERIALIZED (
        SELECT c.workspace_id FROM workspace_queue_counts c
        JOIN unnest(${ids}::uuid[], ${ids.map((id) => room.get(id)!)}::int[]) AS r(id, room)
          ON c.workspace_id = r.id
        WHERE c.queued <= r.room
        ORDER BY c.workspace_id
        FOR UPDATE OF c
      ),`;
    const { rows, admitted } = await this.#insertBatch(tests, { cte, condition });
    return admitted ? this.#outcomes(tests, rows) : undefined;
  }

  /**
   * The batch's INSERT: without keys a plain multi-row insert; with keys, the keys are claimed in a
   * CTE of the same statement and only the tests whose key was won are inserted (the key's foreign
   * key to its test is checked at the end of the statement, when both rows exist). With a guard,
   * nothing at all unless its condition holds (`admitted`).
   */
  async #insertBatch(
    tests: NewBatchTest[],
    guard?: { cte: RawBuilder<unknown>; condition: RawBuilder<unknown> },
  ): Promise<{ rows: TestRow[]; admitted: boolean }> {
    const col = <T>(f: (t: NewBatchTest) => T) => tests.map(f);
    const input = sql`SELECT * FROM unnest(
      ${col((t) => t.testId)}::uuid[], ${col((t) => t.testType)}::text[], ${col((t) => t.testName)}::text[],
      ${col((t) => t.url)}::text[], ${col((t) => JSON.stringify(t.config))}::jsonb[],
      ${col((t) => t.priority)}::smallint[], ${col((t) => t.userId)}::uuid[],
      ${col((t) => t.idempotency?.key ?? null)}::text[], ${col((t) => t.idempotency?.requestHash ?? null)}::text[],
      ${col((t) => t.rerunOf ?? null)}::uuid[], ${col((t) => (t.judging ? JSON.stringify(t.judging) : null))}::jsonb[],
      ${col((t) => t.workspaceId ?? null)}::uuid[]
    ) WITH ORDINALITY AS i(test_id, test_type, test_name, url, config, priority, user_id, key, request_hash, rerun_of,
      judging, given_workspace_id, ord)
    ${guard ? sql`WHERE ${guard.condition}` : sql``}`;
    // A test without a workspace goes to its user's personal one.
    const columns = sql.raw(
      `test_id, test_type, test_name, url, config, priority, user_id, rerun_of, judging, workspace_id`,
    );
    const values = sql.raw(`test_id, test_type, test_name, url, config, priority, user_id, rerun_of, judging,
      coalesce(given_workspace_id, (SELECT w.id FROM workspaces w WHERE w.personal_of = input.user_id))`);
    const keyed = tests.some((t) => t.idempotency);
    const claim = keyed
      ? sql`claimed AS (
            INSERT INTO idempotency_keys (user_id, key, request_hash, test_id)
            SELECT user_id, key, request_hash, test_id FROM input WHERE key IS NOT NULL
            ON CONFLICT (user_id, key) DO UPDATE
              SET request_hash = excluded.request_hash, test_id = excluded.test_id, created_at = now()
              -- An expired key is reused as if it were new.
              WHERE idempotency_keys.created_at < now() - interval '24 hours'
            RETURNING test_id
          ),`
      : sql``;
    const statement = sql`
      WITH ${guard ? guard.cte : sql``} input AS (${input}),
      ${claim}
      inserted AS (
        INSERT INTO test_queue (${columns})
        SELECT ${values} FROM input
        ${keyed ? sql`WHERE key IS NULL OR test_id IN (SELECT test_id FROM claimed)` : sql``}
        ORDER BY ord
        RETURNING *
      )`;
    if (!guard) {
      const { rows } = await sql<TestRow>`${statement} SELECT * FROM inserted`.execute(this.#db);
      return { rows, admitted: true };
    }
    // One row at least, even when nothing was inserted, to say whether the guard held.
    const { rows } = await sql<TestRow & { admitted: boolean }>`${statement}
      SELECT g.admitted, i.* FROM (SELECT ${guard.condition} AS admitted) g LEFT JOIN inserted i ON true`.execute(
      this.#db,
    );
    return {
      rows: rows.filter((r) => r.test_id !== null).map(({ admitted: _, ...row }) => row),
      admitted: rows[0]?.admitted === true,
    };
  }

  /** Each test's outcome: its row, or the earlier test of the key it lost. */
  async #outcomes(tests: NewBatchTest[], rows: TestRow[]): Promise<BatchOutcome[]> {
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
  findById(testId: string): Promise<TestRow | undefined> {
    return this.#db.selectFrom('test_queue').selectAll().where('test_id', '=', testId).executeTakeFirst();
  }

  /**
   * `baseline: "previous"`: the id of the workspace's latest completed test of this type and URL,
   * or undefined.
   */
  async latestCompleted(workspaceId: string, testType: TestType, url: string): Promise<string | undefined> {
    const row = await this.#db
      .selectFrom('test_queue')
      .select('test_id')
      .where('workspace_id', '=', workspaceId)
      .where('test_type', '=', testType)
      .where('url', '=', url)
      .where('status', '=', 'completed')
      .orderBy('completed_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row?.test_id;
  }

  /** A completed test's `result.metrics` (a baseline's), or null when it has none (not completed). */
  async metricsOf(testId: string): Promise<Record<string, MetricValue> | null> {
    const row = await this.#db
      .selectFrom('test_queue')
      .select(sql<Record<string, MetricValue> | null>`result->'metrics'`.as('metrics'))
      .where('test_id', '=', testId)
      .where('status', '=', 'completed')
      .executeTakeFirst();
    return row?.metrics ?? null;
  }

  /** The test if the viewer may see it (its workspace's, or admin); otherwise undefined, exactly like a missing one. */
  findVisible(testId: string, viewer: Viewer): Promise<TestRow | undefined> {
    let q = this.#db.selectFrom('test_queue').selectAll().where('test_id', '=', testId);
    if (viewer.role !== 'admin') q = q.where('workspace_id', '=', viewer.workspaceId);
    return q.executeTakeFirst();
  }

  /** The submitter and workspace of a test, for channel authorisation; null when the test does not exist. */
  async ownerOf(testId: string): Promise<{ userId: string | null; workspaceId: string | null } | null> {
    const row = await this.#db
      .selectFrom('test_queue')
      .select(['user_id', 'workspace_id'])
      .where('test_id', '=', testId)
      .executeTakeFirst();
    return row ? { userId: row.user_id, workspaceId: row.workspace_id } : null;
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
      if (viewer.role !== 'admin') q = q.where('workspace_id', '=', viewer.workspaceId);
      const row = await q.returningAll().executeTakeFirst();
      if (row) await closeOpenAttempts(trx, testId, 'cancelled', 'cancelled by the user');
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
        // The new run waits for its turn like a new test.
        dispatched_at: null,
      }))
      .where('test_id', '=', testId)
      .where('status', 'in', ['failed', 'cancelled']);
    if (viewer.role !== 'admin') q = q.where('workspace_id', '=', viewer.workspaceId);
    const row = await q.returningAll().executeTakeFirst();
    if (row) return { outcome: 'queued', row };
    return { outcome: (await this.findVisible(testId, viewer)) ? 'conflict' : 'missing' };
  }

  /**
   * Unsettled tests the reconciler should look at: released (`dispatched_at`) and queued for
   * longer than `queuedGraceMs` (the dispatcher enqueues right after releasing), or running
   * without a write for `runningStaleMs`. Tests still waiting for their turn have no job yet.
   */
  findUnsettled(options: { queuedGraceMs: number; runningStaleMs: number; limit: number }) {
    const older = (ms: number) => sql<Date>`now() - ${ms}::double precision * interval '1 millisecond'`;
    return this.#db
      .selectFrom('test_queue')
      .select([
        'test_id',
        'test_type',
        'url',
        'config',
        'judging',
        'priority',
        'user_id',
        'status',
        'run',
        'monitor_id',
      ])
      .where((eb) =>
        eb.or([
          eb.and([
            eb('status', '=', 'queued'),
            eb('dispatched_at', 'is not', null),
            eb('updated_at', '<', older(options.queuedGraceMs)),
          ]),
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
    if (viewer.role !== 'admin') q = q.where('workspace_id', '=', viewer.workspaceId);
    const rows = await q.orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => r.test_id);
  }

  /** One page of the viewer's workspace's tests (admins: everyone's), newest first; `nextAfterId` when there is more. */
  async list(
    viewer: Viewer,
    filter: TestListFilter,
  ): Promise<{ rows: (TestRow & { owner_email: string | null })[]; nextAfterId: string | null }> {
    let q = this.#db
      .selectFrom('test_queue')
      .leftJoin('users', 'users.id', 'test_queue.user_id')
      .selectAll('test_queue')
      .select('users.email as owner_email');
    if (viewer.role !== 'admin' && filter.urlContains) {
      // A workspace's URL search: its ids come from the search index alone (see searchIds), the
      // rows then by primary key.
      q = q.where('test_queue.id', 'in', this.#searchIds(viewer.workspaceId, filter.urlContains, filter));
    } else {
      if (viewer.role !== 'admin') q = q.where('test_queue.workspace_id', '=', viewer.workspaceId);
      else if (filter.userId) q = q.where('test_queue.user_id', '=', filter.userId);
      if (filter.ownerEmail) q = q.where('users.email', '=', filter.ownerEmail);
      if (filter.status) q = q.where('test_queue.status', '=', filter.status);
      if (filter.testType) q = q.where('test_queue.test_type', '=', filter.testType);
      if (filter.urlContains) q = q.where('test_queue.url', 'ilike', containsPattern(filter.urlContains));
      if (filter.monitorId) q = q.where('test_queue.monitor_id', '=', filter.monitorId);
      if (filter.afterId) q = q.where('test_queue.id', '<', filter.afterId);
    }
    const rows = await q
      .orderBy('test_queue.id', 'desc')
      .limit(filter.limit + 1)
      .execute();
    const more = rows.length > filter.limit;
    if (more) rows.pop();
    return { rows, nextAfterId: more ? rows.at(-1)!.id : null };
  }

  /**
   * The ids of a page of one workspace's tests whose URL contains `text` (case-insensitive),
   * newest first. PostgreSQL estimates any `ILIKE '%…%'` as nearly never true, so the plain query
   * fetched every test of the workspace from the table (one page each: a workspace's tests lie
   * among everyone's) before sorting the few that matched. Here the URLs are read from
   * `test_queue_workspace_search_idx` alone, newest first, until a page matches: only the matches
   * are fetched. URLs longer than the index takes ({@link SEARCH_INDEX_URL_BYTES}) are not in it and
   * are searched through their own (in practice empty) index.
   */
  #searchIds(workspaceId: string, text: string, filter: Omit<TestListFilter, 'urlContains' | 'userId'>) {
    const pattern = containsPattern(text);
    const branch = (long: boolean) => {
      let b = this.#db
        .selectFrom('test_queue')
        .select('id')
        .where('workspace_id', '=', workspaceId)
        .where(sql<number>`octet_length(url)`, long ? '>' : '<=', sql.lit(SEARCH_INDEX_URL_BYTES))
        .where('url', 'ilike', pattern);
      if (filter.status) b = b.where('status', '=', filter.status);
      if (filter.testType) b = b.where('test_type', '=', filter.testType);
      if (filter.monitorId) b = b.where('monitor_id', '=', filter.monitorId);
      // A member's own tests (`?owner=` their email): the owner is known by email only.
      if (filter.ownerEmail)
        b = b.where('user_id', 'in', (eb) =>
          eb.selectFrom('users').select('users.id').where('users.email', '=', filter.ownerEmail!),
        );
      if (filter.afterId) b = b.where('id', '<', filter.afterId);
      return b.orderBy('id', 'desc').limit(filter.limit + 1);
    };
    return this.#db
      .selectFrom(sql<{ id: string }>`((${branch(false)}) UNION ALL (${branch(true)}))`.as('m'))
      .select('m.id');
  }

  /** The workspace's queued and running tests, running first, then in the order they will start. */
  unfinishedOf(workspaceId: string, limit: number): Promise<TestRow[]> {
    return this.#db
      .selectFrom('test_queue')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .where('status', 'in', ['queued', 'running'])
      .orderBy(sql`status = 'running'`, 'desc')
      .orderBy('priority', 'desc')
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  /** The workspace's tests by status, every status present (0 when none). */
  async countByStatus(workspaceId: string): Promise<StatusCounts> {
    const rows = await this.#db
      .selectFrom('test_queue')
      .select(['status', sql<string>`count(*)`.as('n')])
      .where('workspace_id', '=', workspaceId)
      .groupBy('status')
      .execute();
    const counts: StatusCounts = { queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };
    for (const r of rows) counts[r.status] = Number(r.n);
    return counts;
  }

  /** Deletes finished tests that ended more than `olderThanHours` ago: one workspace's, or everyone's (null). */
  async deleteFinished(
    workspaceId: string | null,
    olderThanHours: number,
  ): Promise<{ test_id: string; user_id: string | null; workspace_id: string | null }[]> {
    let q = this.#db
      .deleteFrom('test_queue')
      .where('status', 'in', FINISHED_STATUSES)
      .where(
        sql<Date>`coalesce(completed_at, updated_at)`,
        '<',
        sql<Date>`now() - ${olderThanHours}::double precision * interval '1 hour'`,
      );
    if (workspaceId !== null) q = q.where('workspace_id', '=', workspaceId);
    return q.returning(['test_id', 'user_id', 'workspace_id']).execute();
  }

  /**
   * What the position and ETA of a test are computed from (DESIGN.md, "Queue position and ETA"):
   * for a queued test, the tests that start before it, by type. Released tests (in the queue
   * already) go by priority, then age; a test still on its workspace's waiting list comes after
   * every released one and after the waiting tests the fair dispatcher hands a slot first
   * (`pickFair`): a workspace's n-th waiting test (of the test's queue) gets its slot at turn
   * in-flight + n − 1, lower turns first, ties to the higher priority, then the older — so another
   * workspace's backlog is ahead only by as many turns as this test's own workspace takes.
   */
  async queueSnapshot(row: SnapshotRow): Promise<QueueSnapshot> {
    return (await this.queueSnapshots([row]))[0]!;
  }

  /**
   * {@link queueSnapshot} of several tests at once (a queue status lists up to 20): the running
   * tests and means read once, the released tests counted once for every waiting test, and one
   * fair-order query per queue for all its waiting tests — not one window over the whole waiting
   * list per test.
   */
  async queueSnapshots(rows: readonly SnapshotRow[]): Promise<QueueSnapshot[]> {
    const rest = this.runningAndMeans();
    const queued = rows.filter((r) => r.status === 'queued');
    const waiting = queued.filter((r) => r.dispatched_at === null);
    const released = queued.filter((r) => r.dispatched_at !== null);
    const aheadOf = new Map<string, { aheadByType: Partial<Record<TestType, number>>; others: number }>();
    const addAhead = (id: string, type: TestType, n: number, others = 0) => {
      let entry = aheadOf.get(id);
      if (!entry) aheadOf.set(id, (entry = { aheadByType: {}, others: 0 }));
      entry.aheadByType[type] = (entry.aheadByType[type] ?? 0) + n;
      entry.others += others;
    };
    // Released tests ahead: of a released test, those of a higher priority or older at its own.
    const releasedAhead = (row?: SnapshotRow) =>
      this.#db
        .selectFrom('test_queue')
        .select(['test_type', sql<string>`count(*)`.as('n')])
        .where('status', '=', 'queued')
        .where('dispatched_at', 'is not', null)
        .where((eb) =>
          row
            ? eb.or([
                eb('priority', '>', row.priority),
                eb.and([eb('priority', '=', row.priority), eb('id', '<', row.id)]),
              ])
            : eb.lit(true),
        )
        .groupBy('test_type')
        .execute();
    const byQueue = new Map<string, SnapshotRow[]>();
    for (const r of waiting) {
      const name = queueNameOf(r.test_type);
      byQueue.set(name, [...(byQueue.get(name) ?? []), r]);
    }
    await Promise.all([
      // Of a waiting test, every released test is ahead: counted once for all of them.
      waiting.length > 0 &&
        releasedAhead().then((counts) => {
          for (const w of waiting) for (const c of counts) addAhead(w.id, c.test_type, Number(c.n));
        }),
      ...released.map((r) =>
        releasedAhead(r).then((counts) => {
          for (const c of counts) addAhead(r.id, c.test_type, Number(c.n));
        }),
      ),
      ...[...byQueue].map(async ([name, mine]) => {
        const types = Object.values(TestTypes).filter((t) => queueNameOf(t) === name);
        // Ahead of a waiting test: every test of an earlier turn (counted from one histogram of
        // turns, not by comparing each test with every other: 20 listed tests × 50,000 waiting was
        // a million comparisons) and, at its own turn, those of a higher priority or older. Its own
        // workspace's are the tests before it there: the rest are other workspaces'. Only tests up
        // to the latest turn asked about can be ahead: each waiting list (the dispatcher's own,
        // {@link WAITING_LISTS}) is read that far, not all of it — for an early test one
        // short read per workspace instead of a window over every waiting test of the queue.
        const fair = await sql<{ mine: string; test_type: TestType; n: string; before_it: string }>`
          WITH RECURSIVE ${WAITING_LISTS},
          mine AS MATERIALIZED (
            SELECT m.id, m.priority, b.before_it, coalesce(f.n, 0) + b.before_it AS turn
            FROM test_queue m
            LEFT JOIN flight f ON ${flightOf(sql`m.workspace_id`)}
            -- Its own list's tests before it, read as two ranges of test_queue_waiting (a higher
            -- priority; the same one and older), not the whole list as an OR of the two did.
            CROSS JOIN LATERAL (
              SELECT (SELECT count(*) FROM (${listHeads(
                sql`m.workspace_id`,
                sql`1`,
                sql`q.priority > m.priority AND q.test_type = ANY(${types}::text[])`,
                sql`ALL`,
              )}) h) + (SELECT count(*) FROM (${listHeads(
                sql`m.workspace_id`,
                sql`1`,
                sql`q.priority = m.priority AND q.id < m.id AND q.test_type = ANY(${types}::text[])`,
                sql`ALL`,
              )}) o) AS before_it
            ) b
            WHERE m.id = ANY(${mine.map((r) => r.id)}::bigint[])
              AND m.status = 'queued' AND m.dispatched_at IS NULL AND m.test_type = ANY(${types}::text[])
          ),
          head AS (
            SELECT r.workspace_id, r.test_type, r.priority, r.id, r.k, coalesce(f.n, 0) AS in_flight
            FROM every_list l
            LEFT JOIN flight f ON ${flightOf(sql`l.workspace_id`)}
            CROSS JOIN LATERAL (${listHeads(
              sql`l.workspace_id`,
              // Its place in its list, counted as the list is read in order (no sort of them all).
              sql`q.workspace_id, q.test_type, q.priority, q.id, row_number() OVER (ORDER BY q.priority DESC, q.id) AS k`,
              sql`q.test_type = ANY(${types}::text[])`,
              sql`greatest(0, (SELECT max(turn) FROM mine) - coalesce(f.n, 0) + 1)`,
            )}) r
          ),
          turns AS MATERIALIZED (
            SELECT test_type, priority, id, in_flight + k - 1 AS turn FROM head
          ),
          by_turn AS (SELECT turn, test_type, count(*) AS n FROM turns GROUP BY turn, test_type)
          SELECT m.id AS mine, m.before_it, b.test_type, sum(b.n) AS n
          FROM mine m JOIN by_turn b ON b.turn < m.turn
          GROUP BY m.id, m.before_it, b.test_type
          UNION ALL
          SELECT m.id, m.before_it, t.test_type, count(*)
          FROM mine m JOIN turns t
            ON t.turn = m.turn AND (t.priority > m.priority OR (t.priority = m.priority AND t.id < m.id))
          GROUP BY m.id, m.before_it, t.test_type`.execute(this.#db);
        const ownBefore = new Map<string, number>();
        for (const f of fair.rows) {
          addAhead(String(f.mine), f.test_type, Number(f.n), Number(f.n));
          ownBefore.set(String(f.mine), Number(f.before_it));
        }
        // The tests counted of its own workspace, taken off the others'.
        for (const [id, before] of ownBefore) aheadOf.get(id)!.others -= before;
      }),
    ]);
    const shared = await rest;
    return rows.map((row) => {
      if (row.status !== 'queued') return { aheadByType: {}, ...shared };
      const entry = aheadOf.get(String(row.id));
      return { aheadByType: { ...entry?.aheadByType }, otherWorkspacesAhead: entry?.others ?? 0, ...shared };
    });
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
      // Per type, its latest completed tests from `test_queue_completed_type_idx`: a few index
      // entries each, however many tests have ever completed (a window over every completed
      // test would read the whole history on each call).
      sql<{ test_type: TestType; mean: number }>`
        SELECT t.test_type, avg(extract(epoch from recent.completed_at - recent.started_at))::float8 AS mean
        FROM unnest(${Object.values(TestTypes)}::text[]) AS t(test_type)
        CROSS JOIN LATERAL (
          SELECT started_at, completed_at FROM test_queue
          WHERE status = 'completed' AND test_type = t.test_type
            AND started_at IS NOT NULL AND completed_at IS NOT NULL
          ORDER BY completed_at DESC
          LIMIT ${DURATION_SAMPLE}
        ) recent
        GROUP BY t.test_type`.execute(this.#db),
    ]);
    return {
      running: running.map((r) => ({ testType: r.test_type, elapsedSec: Number(r.elapsed) })),
      meanSecByType: Object.fromEntries(means.rows.map((r) => [r.test_type, Number(r.mean)])),
    };
  }
}
