import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Frozen once landed: later changes go into new migrations.
// An incident whose monitor is deleted is resolved with it (by nobody, untold), as a deleted rule's
// are: nothing would judge its runs again, and an incident open for ever would be reminded for ever.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION crucible_resolve_monitor_incidents() RETURNS trigger AS $$
    BEGIN
      UPDATE incidents SET status = 'resolved', resolved_at = now(), closed_through = now(),
        next_remind_at = NULL
      WHERE monitor_id = OLD.id AND status <> 'resolved';
      RETURN OLD;
    END $$ LANGUAGE plpgsql`.execute(db);
  await sql`
    CREATE TRIGGER monitors_resolve_incidents BEFORE DELETE ON monitors
    FOR EACH ROW EXECUTE FUNCTION crucible_resolve_monitor_incidents()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER monitors_resolve_incidents ON monitors`.execute(db);
  await sql`DROP FUNCTION crucible_resolve_monitor_incidents()`.execute(db);
}
