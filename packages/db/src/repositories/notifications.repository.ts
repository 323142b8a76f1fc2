import { sql } from 'kysely';
import type { Kysely, Selectable } from 'kysely';
import type { Severity } from '@crucible/contracts';
import type { Database, NotificationsTable } from '../types.js';

export type NotificationRow = Selectable<NotificationsTable>;

export interface NewNotification {
  workspaceId: string;
  deliveryId: string;
  title: string;
  body: string;
  severity: Severity;
  incidentId: string | null;
}

/** `(created_at, id)` of the last item of a page, as an opaque cursor. */
const encodeCursor = (row: NotificationRow) =>
  Buffer.from(`${row.created_at.toISOString()}|${row.id}`).toString('base64url');

function decodeCursor(cursor: string): { at: Date; id: string } | undefined {
  const [at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const date = new Date(at ?? '');
  if (!id || Number.isNaN(date.getTime()) || !/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  return { at: date, id };
}

/** Repository of `notifications`: a user's in-app notifications, each made once per delivery. */
export class NotificationsRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Makes the delivery's notification for each user who is still a member of the workspace, once
   * (a delivery sent again after a crash finds them made), and returns all of the delivery's.
   */
  async makeForDelivery(userIds: readonly string[], n: NewNotification): Promise<NotificationRow[]> {
    await sql`
      insert into notifications (user_id, workspace_id, delivery_id, title, body, severity, incident_id)
      select m.user_id, ${n.workspaceId}, ${n.deliveryId}, ${n.title}, ${n.body}, ${n.severity}, ${n.incidentId}
      from workspace_members m
      where m.workspace_id = ${n.workspaceId} and m.user_id = any(${sql.val(userIds)}::uuid[])
      on conflict (delivery_id, user_id) do nothing
    `.execute(this.#db);
    return this.#db
      .selectFrom('notifications')
      .selectAll()
      .where('delivery_id', '=', n.deliveryId)
      .orderBy('user_id')
      .execute();
  }

  /**
   * One notification for each user, in their personal workspace, not made by a delivery: a system
   * alert's. Written on the caller's transaction, with the alert.
   */
  async makeForUsers(
    userIds: readonly string[],
    n: { title: string; body: string; severity: Severity },
  ): Promise<NotificationRow[]> {
    if (userIds.length === 0) return [];
    const { rows } = await sql<NotificationRow>`
      insert into notifications (user_id, workspace_id, title, body, severity)
      select w.personal_of, w.id, ${n.title}, ${n.body}, ${n.severity}
      from workspaces w where w.personal_of = any(${sql.val(userIds)}::uuid[])
      returning *`.execute(this.#db);
    return rows;
  }

  /** A user's notifications, newest first. */
  async list(
    userId: string,
    options: { unread?: boolean; limit: number; cursor?: string },
  ): Promise<{ items: NotificationRow[]; nextCursor: string | null }> {
    let query = this.#db
      .selectFrom('notifications')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(options.limit + 1);
    if (options.unread) query = query.where('read_at', 'is', null);
    const after = options.cursor ? decodeCursor(options.cursor) : undefined;
    if (after) {
      query = query.where((eb) =>
        eb.or([
          eb('created_at', '<', after.at),
          eb.and([eb('created_at', '=', after.at), eb('id', '<', after.id)]),
        ]),
      );
    }
    const rows = await query.execute();
    const items = rows.slice(0, options.limit);
    return { items, nextCursor: rows.length > options.limit ? encodeCursor(items.at(-1)!) : null };
  }

  async unreadCount(userId: string): Promise<number> {
    const row = await this.#db
      .selectFrom('notifications')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('user_id', '=', userId)
      .where('read_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Marks one of the user's notifications read (kept read if it was); undefined if not theirs. */
  async read(userId: string, id: string): Promise<NotificationRow | undefined> {
    return this.#db
      .updateTable('notifications')
      .set({ read_at: sql`coalesce(read_at, now())` })
      .where('user_id', '=', userId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  /** Marks every unread notification of the user read; returns how many. */
  async readAll(userId: string): Promise<number> {
    const result = await this.#db
      .updateTable('notifications')
      .set({ read_at: new Date() })
      .where('user_id', '=', userId)
      .where('read_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }
}
