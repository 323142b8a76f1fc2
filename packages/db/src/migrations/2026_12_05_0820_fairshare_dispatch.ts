import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Frozen once landed: later changes go into new migrations.
// Fair scheduling (issue 20): an accepted test waits in PostgreSQL until the dispatcher releases
// its job into the queue, a free worker slot at a time, workspaces in turn. `dispatched_at` says
// when its current run was released (null: still waiting for its turn).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('test_queue').addColumn('dispatched_at', 'timestamptz').execute();
  // Tests queued or running before this have their jobs in the queue already.
  await sql`UPDATE test_queue SET dispatched_at = created_at WHERE status IN ('queued', 'running')`.execute(
    db,
  );
  // The dispatcher's waiting lists: per workspace, priority first, then oldest.
  await sql`CREATE INDEX test_queue_waiting ON test_queue (workspace_id, priority DESC, id)
    WHERE status = 'queued' AND dispatched_at IS NULL`.execute(db);
  // What each workspace has in flight (released, not finished): its place in the turn.
  await sql`CREATE INDEX test_queue_in_flight ON test_queue (workspace_id)
    WHERE status IN ('queued', 'running') AND dispatched_at IS NOT NULL`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS test_queue_in_flight`.execute(db);
  await sql`DROP INDEX IF EXISTS test_queue_waiting`.execute(db);
  await db.schema.alterTable('test_queue').dropColumn('dispatched_at').execute();
}
