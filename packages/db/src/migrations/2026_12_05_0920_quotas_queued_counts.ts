import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Frozen once landed: later changes go into new migrations.
// The queued quota (issue 20) without counting: `workspace_queue_counts` holds each workspace's
// number of `queued` tests, kept by triggers on `test_queue` in the very statement that moves a
// test in or out of `queued` (insert, dispatch, start, retry, hand-back, cancel, finish, delete),
// whichever process or path writes it. A workspace without a row has no queued test. The
// admission locks the row and reads it instead of counting the workspace's queue under a lock.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('workspace_queue_counts')
    .addColumn('workspace_id', 'uuid', (c) => c.primaryKey().references('workspaces.id').onDelete('cascade'))
    .addColumn('queued', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();

  // Statement-level: one change of each counter per statement, however many rows it moves (a
  // flush inserts hundreds), made in workspace order so that two statements never wait for each
  // other's counters in a circle. Most updates (progress, results, a claim) move no test in or out
  // of `queued` and touch no counter. A deletion only ever decreases a row that exists: the
  // workspace being deleted in the same statement may have taken its row already.
  const counters: [fn: string, event: string, transition: string, body: string][] = [
    [
      'test_queue_count_inserted',
      'INSERT',
      'NEW TABLE AS new_rows',
      `INSERT INTO workspace_queue_counts AS c (workspace_id, queued)
        SELECT workspace_id, count(*) FROM new_rows
        WHERE status = 'queued' AND workspace_id IS NOT NULL
        GROUP BY workspace_id ORDER BY workspace_id
      ON CONFLICT (workspace_id) DO UPDATE SET queued = c.queued + excluded.queued`,
    ],
    [
      'test_queue_count_updated',
      'UPDATE',
      'OLD TABLE AS old_rows NEW TABLE AS new_rows',
      `INSERT INTO workspace_queue_counts AS c (workspace_id, queued)
        SELECT workspace_id, sum(n) FROM (
          SELECT workspace_id, 1 AS n FROM new_rows WHERE status = 'queued'
          UNION ALL
          SELECT workspace_id, -1 AS n FROM old_rows WHERE status = 'queued') moved
        WHERE workspace_id IS NOT NULL
        GROUP BY workspace_id HAVING sum(n) <> 0 ORDER BY workspace_id
      ON CONFLICT (workspace_id) DO UPDATE SET queued = c.queued + excluded.queued`,
    ],
    [
      'test_queue_count_deleted',
      'DELETE',
      'OLD TABLE AS old_rows',
      `UPDATE workspace_queue_counts AS c SET queued = c.queued - d.n
        FROM (SELECT workspace_id, count(*) AS n FROM old_rows
          WHERE status = 'queued' AND workspace_id IS NOT NULL GROUP BY workspace_id) d
        WHERE c.workspace_id = d.workspace_id`,
    ],
  ];
  for (const [fn, event, transition, body] of counters) {
    await sql`CREATE FUNCTION ${sql.raw(fn)}() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        ${sql.raw(body)};
        RETURN NULL;
      END
      $fn$`.execute(db);
    await sql`CREATE TRIGGER ${sql.raw(fn)} AFTER ${sql.raw(event)} ON test_queue
      REFERENCING ${sql.raw(transition)} FOR EACH STATEMENT EXECUTE FUNCTION ${sql.raw(fn)}()`.execute(db);
  }
  // TRUNCATE fires no delete trigger: it empties the counters with the queue.
  await sql`
    CREATE FUNCTION test_queue_count_truncated() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      DELETE FROM workspace_queue_counts;
      RETURN NULL;
    END
    $fn$`.execute(db);
  await sql`CREATE TRIGGER test_queue_count_truncated AFTER TRUNCATE ON test_queue
    FOR EACH STATEMENT EXECUTE FUNCTION test_queue_count_truncated()`.execute(db);

  // The counters of today's queue, taken while nothing can write it (the triggers are in place
  // for every write after this transaction).
  await sql`LOCK TABLE test_queue IN SHARE MODE`.execute(db);
  await sql`
    INSERT INTO workspace_queue_counts (workspace_id, queued)
    SELECT workspace_id, count(*) FROM test_queue
    WHERE status = 'queued' AND workspace_id IS NOT NULL GROUP BY workspace_id`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const fn of ['inserted', 'updated', 'deleted', 'truncated']) {
    await sql`DROP TRIGGER IF EXISTS ${sql.raw(`test_queue_count_${fn}`)} ON test_queue`.execute(db);
    await sql`DROP FUNCTION IF EXISTS ${sql.raw(`test_queue_count_${fn}`)}()`.execute(db);
  }
  await db.schema.dropTable('workspace_queue_counts').execute();
}
