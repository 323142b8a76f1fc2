import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Frozen once landed: later changes go into new migrations.
// Monitors (issue 23): a test run on a schedule. Each slot is claimed once — the primary key of
// monitor_slots and the unique (monitor_id, scheduled_for) of test_queue are the rule whatever
// schedules — and a run is a test_queue row like any other, with its monitor and slot.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('monitors')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('workspace_id', 'uuid', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('created_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('name', 'text', (c) => c.notNull())
    // The run's submission as `POST /api/test/run` takes it, validated and with defaults filled.
    .addColumn('test', 'jsonb', (c) => c.notNull())
    // How each run is judged (thresholds, runs…) as the submission's validation made it; its
    // baseline apart: `previous` (the monitor's previous completed run) or a test id.
    .addColumn('judging', 'jsonb')
    .addColumn('baseline', 'text')
    .addColumn('every_seconds', 'integer', (c) => c.check(sql`every_seconds > 0`))
    .addColumn('cron', 'text')
    .addColumn('timezone', 'text')
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    // The slot the scheduler claims next; null while paused.
    .addColumn('next_run_at', 'timestamptz')
    // What its latest finished run says (up, down, degraded); null before the first.
    .addColumn('state', 'text', (c) => c.check(sql`state IN ('up', 'down', 'degraded')`))
    .addColumn('state_changed_at', 'timestamptz')
    // A monitor made by `crucible deploy`: the check's name in its file (one per workspace).
    .addColumn('code_key', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('monitors_schedule_check', sql`(every_seconds IS NULL) <> (cron IS NULL)`)
    .addUniqueConstraint('monitors_code_key_unique', ['workspace_id', 'code_key'])
    .execute();
  await sql`
    CREATE TRIGGER monitors_updated_at BEFORE UPDATE ON monitors
    FOR EACH ROW EXECUTE FUNCTION crucible_set_updated_at()`.execute(db);
  // The scheduler's one question: which enabled monitors are due.
  await sql`CREATE INDEX monitors_due_idx ON monitors (next_run_at) WHERE enabled`.execute(db);
  await db.schema.createIndex('monitors_workspace_idx').on('monitors').column('workspace_id').execute();

  await db.schema
    .alterTable('test_queue')
    .addColumn('monitor_id', 'uuid', (c) => c.references('monitors.id').onDelete('set null'))
    .addColumn('scheduled_for', 'timestamptz')
    .execute();
  await sql`CREATE UNIQUE INDEX test_queue_monitor_slot_unique ON test_queue (monitor_id, scheduled_for)
    WHERE monitor_id IS NOT NULL`.execute(db);

  await db.schema
    .createTable('monitor_slots')
    .addColumn('monitor_id', 'uuid', (c) => c.notNull().references('monitors.id').onDelete('cascade'))
    .addColumn('scheduled_for', 'timestamptz', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull().check(sql`outcome IN ('run', 'missed', 'skipped')`))
    .addColumn('reason', 'text')
    .addColumn('test_id', 'uuid', (c) => c.references('test_queue.test_id').onDelete('set null'))
    // What the run said of the monitor once it finished (up, down, degraded).
    .addColumn('state', 'text', (c) => c.check(sql`state IN ('up', 'down', 'degraded')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('monitor_slots_pkey', ['monitor_id', 'scheduled_for'])
    .execute();

  await db.schema
    .createTable('maintenance_windows')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('workspace_id', 'uuid', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    // null: every monitor of the workspace.
    .addColumn('monitor_ids', sql`uuid[]`)
    .addColumn('starts_at', 'timestamptz')
    .addColumn('ends_at', 'timestamptz')
    .addColumn('cron', 'text')
    .addColumn('duration_minutes', 'integer')
    .addColumn('timezone', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint(
      'maintenance_windows_kind_check',
      sql`(starts_at IS NOT NULL AND ends_at > starts_at AND cron IS NULL)
          OR (cron IS NOT NULL AND duration_minutes > 0 AND starts_at IS NULL AND ends_at IS NULL)`,
    )
    .execute();
  await db.schema
    .createIndex('maintenance_windows_workspace_idx')
    .on('maintenance_windows')
    .column('workspace_id')
    .execute();

  await db.schema
    .createTable('status_pages')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('workspace_id', 'uuid', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('slug', 'text', (c) => c.notNull().unique())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('monitor_ids', sql`uuid[]`, (c) => c.notNull())
    .addColumn('public', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('show_urls', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('status_pages').execute();
  await db.schema.dropTable('maintenance_windows').execute();
  await db.schema.dropTable('monitor_slots').execute();
  await sql`DROP INDEX test_queue_monitor_slot_unique`.execute(db);
  await db.schema.alterTable('test_queue').dropColumn('monitor_id').dropColumn('scheduled_for').execute();
  await db.schema.dropTable('monitors').execute();
}
