import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Frozen once landed: later changes go into new migrations.
// What a browser test keeps beside its result (issue 25): the final screenshot, the filmstrip's
// frames and the full Lighthouse report, each capped, removed with their test.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('test_artifacts')
    .addColumn('test_id', 'uuid', (c) => c.notNull().references('test_queue.test_id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull().check(sql`name ~ '^[a-z0-9][a-z0-9._-]{0,99}$'`))
    .addColumn('content_type', 'text', (c) => c.notNull())
    // 16 MiB: a Lighthouse report of a heavy page is a few MiB, a screenshot tens of KiB.
    .addColumn('data', 'bytea', (c) => c.notNull().check(sql`octet_length(data) <= 16777216`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('test_artifacts_pkey', ['test_id', 'name'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('test_artifacts').execute();
}
