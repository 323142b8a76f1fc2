import { sql } from 'kysely';
import type { Kysely, Selectable } from 'kysely';
import type { Severity, SystemAlertKind, SystemAlertStatus } from '@crucible/contracts';
import type { Database, SystemAlertsTable } from '../types.js';

export type SystemAlertRow = Selectable<SystemAlertsTable>;

export interface NewSystemAlert {
  key: string;
  kind: SystemAlertKind;
  severity: Severity;
  title: string;
  message: string;
  details: Record<string, unknown>;
  ownerId: string | null;
  startedAt: Date;
  /** Told at once (now), or held pending until it has lasted long enough. */
  fired: boolean;
}

/** `(fired_at, id)` of the last item of a page, as an opaque cursor. */
const encodeCursor = (row: SystemAlertRow) =>
  Buffer.from(`${row.fired_at!.toISOString()}|${row.id}`).toString('base64url');

function decodeCursor(cursor: string): { at: Date; id: string } | undefined {
  const [at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const date = new Date(at ?? '');
  if (!id || Number.isNaN(date.getTime()) || !/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  return { at: date, id };
}

/**
 * Repository of `system_alerts`. At most one unresolved alert per key (a unique partial index), so
 * two checkers that both see a condition start write one alert; each change of state is a
 * conditional update that only one of them wins.
 */
export class SystemAlertsRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Makes the caller's transaction the one check running, or answers false at once if another holds
   * it: the checkers of several processes take turns instead of racing.
   */
  async lockChecks(): Promise<boolean> {
    const { rows } = await sql<{ locked: boolean }>`
      select pg_try_advisory_xact_lock(hashtextextended('system-alerts-check', 0)) as locked`.execute(
      this.#db,
    );
    return rows[0]!.locked;
  }

  /** Every alert not resolved (pending or firing). */
  async unresolved(): Promise<SystemAlertRow[]> {
    return this.#db.selectFrom('system_alerts').selectAll().where('resolved_at', 'is', null).execute();
  }

  /** Writes a new alert of a key; undefined if one of the key is already unresolved. */
  async open(alert: NewSystemAlert): Promise<SystemAlertRow | undefined> {
    const { rows } = await sql<SystemAlertRow>`
      insert into system_alerts (key, kind, severity, title, message, details, owner_id, started_at, fired_at)
      values (${alert.key}, ${alert.kind}, ${alert.severity}, ${alert.title}, ${alert.message},
              ${JSON.stringify(alert.details)}::jsonb, ${alert.ownerId}, ${alert.startedAt},
              ${alert.fired ? sql`now()` : null})
      on conflict (key) where resolved_at is null do nothing
      returning *`.execute(this.#db);
    return rows[0];
  }

  /** A pending alert told now, with what it says now; undefined if it was not pending. */
  async fire(
    id: string,
    now: Pick<NewSystemAlert, 'title' | 'message' | 'details'>,
  ): Promise<SystemAlertRow | undefined> {
    return this.#db
      .updateTable('system_alerts')
      .set({
        fired_at: sql<Date>`now()`,
        title: now.title,
        message: now.message,
        details: JSON.stringify(now.details),
      })
      .where('id', '=', id)
      .where('fired_at', 'is', null)
      .where('resolved_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
  }

  /** A firing alert ended; undefined if it was not firing. */
  async resolve(id: string): Promise<SystemAlertRow | undefined> {
    return this.#db
      .updateTable('system_alerts')
      .set({ resolved_at: sql<Date>`now()` })
      .where('id', '=', id)
      .where('fired_at', 'is not', null)
      .where('resolved_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
  }

  /** A pending alert whose condition ended before it was told: forgotten. */
  async forget(id: string): Promise<void> {
    await this.#db.deleteFrom('system_alerts').where('id', '=', id).where('fired_at', 'is', null).execute();
  }

  /** Alerts told, newest first; `status` firing (unresolved) or resolved. */
  async list(options: {
    status?: SystemAlertStatus;
    limit: number;
    cursor?: string;
  }): Promise<{ items: SystemAlertRow[]; nextCursor: string | null }> {
    let query = this.#db
      .selectFrom('system_alerts')
      .selectAll()
      .where('fired_at', 'is not', null)
      .orderBy('fired_at', 'desc')
      .orderBy('id', 'desc')
      .limit(options.limit + 1);
    if (options.status === 'firing') query = query.where('resolved_at', 'is', null);
    if (options.status === 'resolved') query = query.where('resolved_at', 'is not', null);
    const after = options.cursor ? decodeCursor(options.cursor) : undefined;
    if (after) {
      query = query.where((eb) =>
        eb.or([
          eb('fired_at', '<', after.at),
          eb.and([eb('fired_at', '=', after.at), eb('id', '<', after.id)]),
        ]),
      );
    }
    const rows = await query.execute();
    const items = rows.slice(0, options.limit);
    return { items, nextCursor: rows.length > options.limit ? encodeCursor(items.at(-1)!) : null };
  }
}
