import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Frozen once landed: later changes go into new migrations.
// Alert rules and incidents (issue 24): a rule watches monitors' runs; a run that settles opens or
// resolves an incident in the same transaction that writes its notifications into the outbox.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('alert_rules')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('workspace_id', 'uuid', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('created_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('name', 'text', (c) => c.notNull())
    // null: every monitor of the workspace.
    .addColumn('monitor_id', 'uuid', (c) => c.references('monitors.id').onDelete('cascade'))
    .addColumn('condition', 'jsonb', (c) => c.notNull())
    .addColumn('fail_after', 'integer', (c) => c.notNull().check(sql`fail_after BETWEEN 1 AND 20`))
    .addColumn('recover_after', 'integer', (c) => c.notNull().check(sql`recover_after BETWEEN 1 AND 20`))
    .addColumn('remind_every_minutes', 'integer', (c) => c.check(sql`remind_every_minutes >= 5`))
    .addColumn('severity', 'text', (c) => c.notNull().check(sql`severity IN ('critical', 'warning', 'info')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`
    CREATE TRIGGER alert_rules_updated_at BEFORE UPDATE ON alert_rules
    FOR EACH ROW EXECUTE FUNCTION crucible_set_updated_at()`.execute(db);
  await db.schema
    .createIndex('alert_rules_workspace_idx')
    .on('alert_rules')
    .columns(['workspace_id', 'created_at'])
    .execute();

  // A rule's channels: a channel deleted leaves the rules that named it.
  await db.schema
    .createTable('alert_rule_channels')
    .addColumn('rule_id', 'uuid', (c) => c.notNull().references('alert_rules.id').onDelete('cascade'))
    .addColumn('channel_id', 'uuid', (c) =>
      c.notNull().references('notification_channels.id').onDelete('cascade'),
    )
    .addPrimaryKeyConstraint('alert_rule_channels_pkey', ['rule_id', 'channel_id'])
    .execute();

  await db.schema
    .createTable('incidents')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('workspace_id', 'uuid', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    // Kept when the rule or monitor goes: an incident is history.
    .addColumn('rule_id', 'uuid', (c) => c.references('alert_rules.id').onDelete('set null'))
    .addColumn('monitor_id', 'uuid', (c) => c.references('monitors.id').onDelete('set null'))
    // The dedup key (rule + monitor): PagerDuty's dedup_key, Opsgenie's alias.
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('rule_name', 'text', (c) => c.notNull())
    .addColumn('monitor_name', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status IN ('open', 'acknowledged', 'resolved')`),
    )
    .addColumn('opened_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // The runs that opened it (newest first) and the slot of the newest: later runs may resolve it.
    .addColumn('opened_by_runs', sql`uuid[]`, (c) => c.notNull())
    .addColumn('opened_through', 'timestamptz', (c) => c.notNull())
    .addColumn('acknowledged_at', 'timestamptz')
    .addColumn('acknowledged_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('resolved_at', 'timestamptz')
    .addColumn('resolved_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('resolved_by_runs', sql`uuid[]`)
    // Runs up to this slot are spent: a new incident of the key counts only later ones.
    .addColumn('closed_through', 'timestamptz')
    .addColumn('next_remind_at', 'timestamptz')
    .addColumn('reminders', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  // One incident open per rule and monitor, whoever evaluates.
  await sql`CREATE UNIQUE INDEX incidents_open_key ON incidents (rule_id, monitor_id)
    WHERE status <> 'resolved'`.execute(db);
  await db.schema
    .createIndex('incidents_workspace_idx')
    .on('incidents')
    .columns(['workspace_id', 'opened_at'])
    .execute();
  await sql`CREATE INDEX incidents_key_closed_idx ON incidents (key, closed_through)`.execute(db);
  // The reminder sweep's one question.
  await sql`CREATE INDEX incidents_remind_idx ON incidents (next_remind_at) WHERE status = 'open'`.execute(
    db,
  );

  // Which notifications told of which incidents (a grouped one tells of several).
  await db.schema
    .createTable('incident_notifications')
    .addColumn('incident_id', 'uuid', (c) => c.notNull().references('incidents.id').onDelete('cascade'))
    .addColumn('event_id', 'uuid', (c) =>
      c.notNull().references('notification_events.id').onDelete('cascade'),
    )
    .addPrimaryKeyConstraint('incident_notifications_pkey', ['incident_id', 'event_id'])
    .execute();
  await db.schema
    .createIndex('incident_notifications_event_idx')
    .on('incident_notifications')
    .column('event_id')
    .execute();

  // A notification that gathers the openings of a workspace to one channel while its first delivery waits.
  await db.schema.alterTable('notification_events').addColumn('group_key', 'text').execute();
  await sql`CREATE INDEX notification_events_group_idx ON notification_events (workspace_id, group_key, created_at)
    WHERE group_key IS NOT NULL`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX notification_events_group_idx`.execute(db);
  await db.schema.alterTable('notification_events').dropColumn('group_key').execute();
  await db.schema.dropTable('incident_notifications').execute();
  await db.schema.dropTable('incidents').execute();
  await db.schema.dropTable('alert_rule_channels').execute();
  await db.schema.dropTable('alert_rules').execute();
}
