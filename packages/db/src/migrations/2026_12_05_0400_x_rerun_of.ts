import type { Kysely } from 'kysely';

// Frozen once landed: later changes go into new migrations.
// "Run again" makes a new test that points at the one it repeats, so both results stay to compare.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('test_queue')
    .addColumn('rerun_of', 'uuid', (c) => c.references('test_queue.test_id').onDelete('set null'))
    .execute();
  // A test's page lists its re-runs.
  await db.schema.createIndex('test_queue_rerun_of_idx').on('test_queue').column('rerun_of').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('test_queue_rerun_of_idx').execute();
  await db.schema.alterTable('test_queue').dropColumn('rerun_of').execute();
}
