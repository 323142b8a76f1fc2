import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Frozen once landed: later changes go into new migrations.
// Platform maintenance (issue 23): an instance admin's announcement to every signed-in user. Kept
// here, not only published, so that a dashboard opened during it (or another api process) knows.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('platform_maintenance')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('message', 'text', (c) => c.notNull())
    // When it is expected to end, if said.
    .addColumn('until', 'timestamptz')
    .addColumn('started_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('started_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('ended_at', 'timestamptz')
    .execute();
  // At most one under way.
  await sql`CREATE UNIQUE INDEX platform_maintenance_open_unique ON platform_maintenance ((true))
    WHERE ended_at IS NULL`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('platform_maintenance').execute();
}
