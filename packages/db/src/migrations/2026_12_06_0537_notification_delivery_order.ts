import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Frozen once landed: later changes go into new migrations.
// One channel's deliveries go one at a time in the order they were written (DESIGN.md, "Alerts and
// notifications", Ordering): `seq` is that order, and the claim looks up a channel's unfinished ones.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE notification_deliveries ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY`.execute(
    db,
  );
  await sql`CREATE INDEX notification_deliveries_channel_open ON notification_deliveries (channel_id, seq)
    WHERE status IN ('pending', 'retrying')`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX notification_deliveries_channel_open`.execute(db);
  await sql`ALTER TABLE notification_deliveries DROP COLUMN seq`.execute(db);
}
