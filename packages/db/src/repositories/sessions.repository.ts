import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { SESSION_IDLE_MS, SESSION_MAX_MS } from '@crucible/contracts';
import type { Database, SessionRow, User } from '../types.js';

export type SessionSummary = Pick<
  SessionRow,
  'id' | 'created_at' | 'last_seen_at' | 'user_agent' | 'ip' | 'expires_at'
>;

export interface SessionLifetimes {
  /** A session unused this long has ended. @defaultValue SESSION_IDLE_MS (12 h) */
  idleMs?: number;
  /** A session this old has ended, used or not. @defaultValue SESSION_MAX_MS (7 days) */
  maxMs?: number;
}

/** Sign-in sessions: one row per sign-in, named by the `sid` of its token. */
export class SessionsRepository {
  readonly #db: Kysely<Database>;
  readonly #idleMs: number;
  readonly #maxMs: number;

  constructor(db: Kysely<Database>, lifetimes: SessionLifetimes = {}) {
    this.#db = db;
    this.#idleMs = lifetimes.idleMs ?? SESSION_IDLE_MS;
    this.#maxMs = lifetimes.maxMs ?? SESSION_MAX_MS;
  }

  /** Rows of sessions that are still alive: not signed out, not past the cap, used recently enough. */
  #alive() {
    return this.#db
      .selectFrom('sessions')
      .where('sessions.revoked_at', 'is', null)
      .where('sessions.expires_at', '>', sql<Date>`now()`)
      .where('sessions.last_seen_at', '>', sql<Date>`now() - make_interval(secs => ${this.#idleMs / 1000})`);
  }

  /**
   * Starts a session for a sign-in. The user's ended sessions are deleted on the way, so the table
   * holds about one row per device in use.
   */
  async create(userId: string, device: { userAgent?: string; ip?: string }): Promise<SessionRow> {
    await this.#db
      .deleteFrom('sessions')
      .where('user_id', '=', userId)
      .where((eb) =>
        eb.or([
          eb('revoked_at', 'is not', null),
          eb('expires_at', '<=', sql<Date>`now()`),
          eb('last_seen_at', '<=', sql<Date>`now() - make_interval(secs => ${this.#idleMs / 1000})`),
        ]),
      )
      .execute();
    return this.#db
      .insertInto('sessions')
      .values({
        user_id: userId,
        user_agent: device.userAgent?.slice(0, 512) ?? null,
        ip: device.ip ?? null,
        expires_at: sql<Date>`now() + make_interval(secs => ${this.#maxMs / 1000})`,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** The user of a live session. */
  findUser(id: string): Promise<User | undefined> {
    return this.#alive()
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .selectAll('users')
      .where('sessions.id', '=', id)
      .executeTakeFirst();
  }

  /** The user's live sessions, most recently used first. */
  listForUser(userId: string): Promise<SessionSummary[]> {
    return this.#alive()
      .select(['id', 'created_at', 'last_seen_at', 'user_agent', 'ip', 'expires_at'])
      .where('user_id', '=', userId)
      .orderBy('last_seen_at', 'desc')
      .orderBy('id')
      .execute();
  }

  /** Ends one of the user's sessions; false when it is not theirs or has already ended. */
  async revoke(userId: string, id: string): Promise<boolean> {
    const res = await this.#db
      .updateTable('sessions')
      .set({ revoked_at: new Date() })
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return res.numUpdatedRows > 0n;
  }

  /** Ends every session of the user ("sign out everywhere"); how many were still open. */
  async revokeAll(userId: string): Promise<number> {
    const res = await this.#db
      .updateTable('sessions')
      .set({ revoked_at: new Date() })
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows);
  }

  /** Which of these sessions are still alive: the gateway's check of its open sockets. */
  async activeIds(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.#alive().select('id').where('id', 'in', ids).execute();
    return new Set(rows.map((r) => r.id));
  }

  /** Moves the sessions' last use forward (never back) to the given times, in one statement. */
  async recordUse(uses: ReadonlyMap<string, Date>): Promise<void> {
    if (uses.size === 0) return;
    const ids = [...uses.keys()];
    const ats = [...uses.values()].map((at) => at.toISOString());
    await sql`
      UPDATE sessions AS s SET last_seen_at = u.at
      FROM unnest(${ids}::uuid[], ${ats}::timestamptz[]) AS u(id, at)
      WHERE s.id = u.id AND s.last_seen_at < u.at
    `.execute(this.#db);
  }
}
