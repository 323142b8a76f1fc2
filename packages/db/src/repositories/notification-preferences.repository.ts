import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Severity } from '@crucible/contracts';
import type { Database } from '../types.js';

export interface NotificationPreferences {
  /** `HH:MM` to `HH:MM` in an IANA time zone (wrapping midnight when end < start); null: none. */
  quietHours: { start: string; end: string; timezone: string } | null;
  minSeverity: Record<string, Severity>;
  mutedUntil: Date | null;
}

/**
 * Repository of `notification_preferences`, one row per user. The outbox reads them when it
 * writes deliveries (`NotificationDeliveriesRepository.enqueue`), through the channel's creator.
 */
export class NotificationPreferencesRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** The user's preferences; none kept: no quiet hours, no minimum, not muted. */
  async get(userId: string): Promise<NotificationPreferences> {
    const row = await this.#db
      .selectFrom('notification_preferences')
      .selectAll()
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!row) return { quietHours: null, minSeverity: {}, mutedUntil: null };
    return {
      quietHours:
        row.quiet_start && row.quiet_end && row.quiet_timezone
          ? {
              start: row.quiet_start.slice(0, 5),
              end: row.quiet_end.slice(0, 5),
              timezone: row.quiet_timezone,
            }
          : null,
      minSeverity: row.min_severity,
      mutedUntil: row.muted_until,
    };
  }

  async put(userId: string, prefs: NotificationPreferences): Promise<void> {
    const values = {
      quiet_start: prefs.quietHours?.start ?? null,
      quiet_end: prefs.quietHours?.end ?? null,
      quiet_timezone: prefs.quietHours?.timezone ?? null,
      min_severity: JSON.stringify(prefs.minSeverity),
      muted_until: prefs.mutedUntil,
    };
    await this.#db
      .insertInto('notification_preferences')
      .values({ user_id: userId, ...values })
      .onConflict((oc) => oc.column('user_id').doUpdateSet({ ...values, updated_at: sql`now()` }))
      .execute();
  }

  /** How many of the channels the user created (preferences apply to those only). */
  async ownChannels(userId: string, channelIds: readonly string[]): Promise<number> {
    if (channelIds.length === 0) return 0;
    const row = await this.#db
      .selectFrom('notification_channels')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('created_by', '=', userId)
      .where('id', 'in', [...channelIds])
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Whether PostgreSQL knows the time zone (it, not the API's runtime, reads quiet hours). */
  async knowsTimezone(timezone: string): Promise<boolean> {
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM pg_timezone_names WHERE name = ${timezone}`.execute(this.#db);
    return rows[0]!.n > 0;
  }
}
