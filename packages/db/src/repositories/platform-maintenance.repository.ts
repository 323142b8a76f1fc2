import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Database, PlatformMaintenanceRow } from '../types.js';

/** Repository of `platform_maintenance`: an instance admin's maintenance, at most one under way. */
export class PlatformMaintenanceRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** The maintenance under way, if any. */
  async current(): Promise<PlatformMaintenanceRow | undefined> {
    return this.#db
      .selectFrom('platform_maintenance')
      .selectAll()
      .where('ended_at', 'is', null)
      .executeTakeFirst();
  }

  /** Starts one, or changes the message and end of the one under way (the unique index allows one). */
  async start(m: {
    message: string;
    until: Date | null;
    startedBy: string;
  }): Promise<PlatformMaintenanceRow> {
    const { rows } = await sql<PlatformMaintenanceRow>`
      INSERT INTO platform_maintenance (message, until, started_by)
      VALUES (${m.message}, ${m.until?.toISOString() ?? null}, ${m.startedBy})
      ON CONFLICT ((true)) WHERE ended_at IS NULL
      DO UPDATE SET message = EXCLUDED.message, until = EXCLUDED.until
      RETURNING *`.execute(this.#db);
    return rows[0]!;
  }

  /** Ends the one under way; undefined when none was. */
  async end(): Promise<PlatformMaintenanceRow | undefined> {
    return this.#db
      .updateTable('platform_maintenance')
      .set({ ended_at: sql<Date>`now()` })
      .where('ended_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
  }
}
