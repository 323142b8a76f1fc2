import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Frozen once landed: later changes go into new migrations.
// A user's notification preferences (issue 24): quiet hours hold non-critical notifications of the
// channels they created until the hours end, a minimum severity per channel and a mute suppress.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('notification_preferences')
    .addColumn('user_id', 'uuid', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    // All three set, or none: no quiet hours.
    .addColumn('quiet_start', 'time')
    .addColumn('quiet_end', 'time')
    .addColumn('quiet_timezone', 'text')
    // {channelId: severity}
    .addColumn('min_severity', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('muted_until', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint(
      'notification_preferences_quiet',
      sql`(quiet_start IS NULL) = (quiet_end IS NULL) AND (quiet_start IS NULL) = (quiet_timezone IS NULL)`,
    )
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('notification_preferences').execute();
}
