import { randomUUID } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import {
  IdempotencyKeysRepository,
  TestAttemptsRepository,
  TestDispatchRepository,
  TestsRepository,
} from '@crucible/db';
import type { Database, Viewer } from '@crucible/db';

class Rollback extends Error {}

/** One query of a request path with the plan PostgreSQL ran it with. */
export interface QueryPlan {
  path: string;
  sql: string;
  /** `EXPLAIN (ANALYZE, BUFFERS)`, as text. */
  plan: string;
  /** Whether the plan reads `test_queue` by a sequential scan (what no request path may do). */
  seqScan: boolean;
  /** Execution time PostgreSQL reported, in ms. */
  executionMs: number;
}

interface Captured {
  sql: string;
  parameters: readonly unknown[];
}

/** What the request paths are asked about: the measured user's workspace and a few of its tests. */
export interface PlanSubjects {
  viewer: Viewer;
  /** A finished test of the measured user (a detail read). */
  finishedTestId: string;
  /** A queued test of the measured user, still waiting for its turn (its standing is computed). */
  queuedTestId: string;
  /** The `id` after which the 50th page of 20 starts. */
  page50AfterId: string;
  /** The URL search's substring. */
  searched: string;
}

/**
 * The queries each request path runs, each run again under `EXPLAIN (ANALYZE, BUFFERS)`: the
 * repositories are called as the API and the worker call them, on a Kysely that records every
 * statement with its parameters, so the SQL explained is exactly theirs. Writes (a submit's
 * INSERT) are explained inside a transaction that is rolled back.
 */
export async function explainRequestPaths(databaseUrl: string, subjects: PlanSubjects): Promise<QueryPlan[]> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  let captured: Captured[] = [];
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    log: (event) => {
      // The transaction's own statements are not a path's.
      if (event.level === 'query' && !/^\s*(begin|commit|rollback)\b/i.test(event.query.sql)) {
        captured.push({ sql: event.query.sql, parameters: event.query.parameters });
      }
    },
  });
  const { viewer } = subjects;
  const queued = (await new TestsRepository(db).findById(subjects.queuedTestId))!;
  const repos = (on: Kysely<Database>) => ({
    tests: new TestsRepository(on),
    attempts: new TestAttemptsRepository(on),
    dispatch: new TestDispatchRepository(on),
    keys: new IdempotencyKeysRepository(on),
  });
  type Repos = ReturnType<typeof repos>;
  const paths: [string, (r: Repos) => Promise<unknown>][] = [
    [
      'submit: insert (group commit)',
      ({ tests }) =>
        tests.createMany([
          {
            testId: randomUUID(),
            testType: 'performance',
            testName: null,
            url: 'http://127.0.0.1/growth',
            config: { iterations: 1 },
            priority: 5,
            userId: viewer.id,
            workspaceId: viewer.workspaceId,
          },
        ]),
    ],
    ['submit: queue position count', ({ tests }) => tests.queuedExcept([])],
    ['submit, detail, status: running tests and mean durations', ({ tests }) => tests.runningAndMeans()],
    ['list: page 1', ({ tests }) => tests.list(viewer, { limit: 20 })],
    ['list: page 50', ({ tests }) => tests.list(viewer, { limit: 20, afterId: subjects.page50AfterId })],
    ['list: URL search', ({ tests }) => tests.list(viewer, { limit: 20, urlContains: subjects.searched })],
    ['detail: the test', ({ tests }) => tests.findVisible(subjects.finishedTestId, viewer)],
    ['detail: attempts', ({ attempts }) => attempts.attemptsOf(subjects.finishedTestId)],
    ['detail: re-runs', ({ tests }) => tests.rerunsOf(subjects.finishedTestId, viewer)],
    ["detail, status: a waiting test's place", ({ tests }) => tests.queueSnapshot(queued)],
    ['status: counts by status', ({ tests }) => tests.countByStatus(viewer.workspaceId)],
    ['status: unfinished tests', ({ tests }) => tests.unfinishedOf(viewer.workspaceId, 20)],
    ['status: waiting for their turn', ({ dispatch }) => dispatch.countWaiting()],
    [
      'reconciler: unsettled rows',
      ({ tests }) => tests.findUnsettled({ queuedGraceMs: 10_000, runningStaleMs: 30_000, limit: 500 }),
    ],
    ['reconciler: expired idempotency keys', ({ keys }) => keys.deleteExpired()],
  ];

  const plans: QueryPlan[] = [];
  try {
    for (const [path, call] of paths) {
      captured = [];
      // Called as the API calls it, in a transaction rolled back: a write leaves nothing behind.
      await db
        .transaction()
        .execute(async (trx) => {
          await call(repos(trx));
          throw new Rollback();
        })
        .catch((err: unknown) => {
          if (!(err instanceof Rollback)) throw err;
        });
      const statements = captured;
      captured = [];
      for (const { sql, parameters } of statements) {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          const { rows } = await client.query<{ 'QUERY PLAN': string }>(
            `EXPLAIN (ANALYZE, BUFFERS) ${sql}`,
            parameters as unknown[],
          );
          await client.query('ROLLBACK');
          const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
          plans.push({
            path,
            sql,
            plan,
            seqScan: /Seq Scan on test_queue\b/.test(plan),
            executionMs: Number(/Execution Time: ([\d.]+) ms/.exec(plan)?.[1] ?? NaN),
          });
        } finally {
          client.release();
        }
      }
    }
  } finally {
    await db.destroy();
  }
  return plans;
}

/** The plans as a file a person reads: each path, its SQL, its plan. */
export function formatPlans(title: string, plans: QueryPlan[]): string {
  const parts = [`# ${title}\n`];
  for (const p of plans) {
    parts.push(
      `## ${p.path}${p.seqScan ? '  — SEQUENTIAL SCAN OF test_queue' : ''}\n\n` +
        `${p.sql.replace(/\s+/g, ' ').trim()}\n\n${p.plan}\n`,
    );
  }
  return parts.join('\n');
}
