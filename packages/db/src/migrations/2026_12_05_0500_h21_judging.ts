import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Frozen once landed: later changes go into new migrations.
// How a test is judged (issue 21): its threshold expressions, runs and baseline, as submitted
// beside the config (null: judged by nothing but the engine's own checks, as before).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('test_queue').addColumn('judging', 'jsonb').execute();
  // `baseline: "previous"` looks up the caller's latest completed test of a type and URL.
  await db.schema
    .createIndex('test_queue_previous_idx')
    .on('test_queue')
    .columns(['user_id', 'test_type', 'url', 'completed_at desc'])
    .where(sql.ref('status'), '=', 'completed')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('test_queue_previous_idx').execute();
  await db.schema.alterTable('test_queue').dropColumn('judging').execute();
}
