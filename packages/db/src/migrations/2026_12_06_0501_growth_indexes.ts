import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Frozen once landed: later changes go into new migrations.
// Cost that stays flat as the tables grow (issue 27, `pnpm bench growth`): on a million finished
// tests the request paths read what they answer, not the history.
export async function up(db: Kysely<any>): Promise<void> {
  // A workspace's list (newest first, `id < cursor` for the next page) reads a page of this
  // index; its counts by status are an index-only scan of it. It replaces the (workspace_id,
  // created_at) index no query orders by, which made a page sort the workspace's whole history.
  await sql`CREATE INDEX test_queue_workspace_list_idx ON test_queue (workspace_id, id DESC) INCLUDE (status)`.execute(
    db,
  );
  await sql`DROP INDEX test_queue_workspace_created_idx`.execute(db);
  // The reconciler's rows exactly: released and queued, or running. Tests still waiting for their
  // turn (any number of them) are not in it, so a pass no longer steps over the whole backlog.
  await sql`CREATE INDEX test_queue_reconcile_idx ON test_queue (updated_at)
    WHERE (status = 'queued' AND dispatched_at IS NOT NULL) OR status = 'running'`.execute(db);
  await sql`DROP INDEX test_queue_unsettled_idx`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`CREATE INDEX test_queue_unsettled_idx ON test_queue (updated_at) WHERE status IN ('queued', 'running')`.execute(
    db,
  );
  await sql`DROP INDEX test_queue_reconcile_idx`.execute(db);
  await sql`CREATE INDEX test_queue_workspace_created_idx ON test_queue (workspace_id, created_at DESC)`.execute(db);
  await sql`DROP INDEX test_queue_workspace_list_idx`.execute(db);
}
