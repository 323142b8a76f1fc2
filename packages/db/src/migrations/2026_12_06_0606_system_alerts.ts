import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Frozen once landed: later changes go into new migrations.
// System alerts (issue 24): a condition of the platform (no worker, an old queue, a failing or gone
// channel) told once when it starts and once when it ends. At most one unresolved alert per key,
// whichever process checks: the unique index is the rule.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('system_alerts')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    // The fingerprint: `workers-silent`, `queue-backlog`, `channel-failing:{id}`, `channel-gone:{id}`.
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('details', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    // Told to this user (a disabled channel's creator) instead of the admins.
    .addColumn('owner_id', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    // When the condition began; `fired_at` null: pending, held until it has lasted long enough.
    .addColumn('started_at', 'timestamptz', (c) => c.notNull())
    .addColumn('fired_at', 'timestamptz')
    .addColumn('resolved_at', 'timestamptz')
    .execute();
  await sql`CREATE UNIQUE INDEX system_alerts_active_key ON system_alerts (key) WHERE resolved_at IS NULL`.execute(
    db,
  );
  await sql`CREATE INDEX system_alerts_fired ON system_alerts (fired_at DESC, id DESC) WHERE fired_at IS NOT NULL`.execute(
    db,
  );
  // The checker's look at the queue: its oldest waiting test.
  await sql`CREATE INDEX test_queue_queued_age ON test_queue (created_at) WHERE status = 'queued'`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS test_queue_queued_age`.execute(db);
  await db.schema.dropTable('system_alerts').execute();
}
