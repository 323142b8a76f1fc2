import { sql } from 'kysely';
import type { Kysely, Selectable } from 'kysely';
import type { ChannelType } from '@crucible/contracts';
import type { Database, NotificationChannelsTable } from '../types.js';

export type NotificationChannelRow = Selectable<NotificationChannelsTable>;

export interface NewNotificationChannel {
  workspaceId: string;
  createdBy: string;
  name: string;
  type: ChannelType;
  config: unknown;
  secret: string | null;
  templates: unknown;
}

export interface NotificationChannelChange {
  name?: string;
  config?: unknown;
  templates?: unknown;
  enabled?: boolean;
}

/** Repository of `notification_channels`: each belongs to one workspace and is only found through it. */
export class NotificationChannelsRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async create(channel: NewNotificationChannel): Promise<NotificationChannelRow> {
    return this.#db
      .insertInto('notification_channels')
      .values({
        workspace_id: channel.workspaceId,
        created_by: channel.createdBy,
        name: channel.name,
        type: channel.type,
        config: JSON.stringify(channel.config),
        secret: channel.secret,
        templates: JSON.stringify(channel.templates ?? {}),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async list(workspaceId: string): Promise<NotificationChannelRow[]> {
    return this.#db
      .selectFrom('notification_channels')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .orderBy('created_at')
      .orderBy('id')
      .limit(500)
      .execute();
  }

  /** The channel, if it is the workspace's (another workspace's is not found). */
  async find(workspaceId: string, id: string): Promise<NotificationChannelRow | undefined> {
    return this.#db
      .selectFrom('notification_channels')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .executeTakeFirst();
  }

  /** Channels by id, whatever their workspace: the dispatcher's read. */
  async findById(id: string): Promise<NotificationChannelRow | undefined> {
    return this.#db.selectFrom('notification_channels').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async update(
    workspaceId: string,
    id: string,
    change: NotificationChannelChange,
  ): Promise<NotificationChannelRow | undefined> {
    return this.#db
      .updateTable('notification_channels')
      .set({
        updated_at: new Date(),
        ...(change.name !== undefined && { name: change.name }),
        ...(change.config !== undefined && { config: JSON.stringify(change.config) }),
        ...(change.templates !== undefined && { templates: JSON.stringify(change.templates) }),
        ...(change.enabled !== undefined && {
          enabled: change.enabled,
          ...(change.enabled && { disabled_reason: null }),
        }),
      })
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  /** Stops sending to a channel (its receiver answered 410 Gone) until someone enables it again. */
  async disable(id: string, reason: string): Promise<void> {
    await this.#db
      .updateTable('notification_channels')
      .set({ enabled: false, disabled_reason: reason, updated_at: new Date() })
      .where('id', '=', id)
      .execute();
  }

  async delete(workspaceId: string, id: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('notification_channels')
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /**
   * Enabled channels whose every attempt since their last delivered one failed, the latest too:
   * since when (the first failed attempt after the last success), and how the latest went. The
   * trail's first line (attempt 0, written with the delivery) is not an attempt.
   */
  async failing(): Promise<FailingChannel[]> {
    const { rows } = await sql<FailingChannel>`
      select c.id as "channelId", c.name as "channelName", c.type as "channelType",
             c.workspace_id as "workspaceId", c.created_by as "createdBy",
             (select min(a.at) from notification_attempts a
               where a.channel_id = c.id and a.attempt > 0 and a.id > coalesce(ok.id, 0)) as "failingSince",
             latest.error as "lastError", latest.response_status as "lastResponseStatus"
      from notification_channels c
      cross join lateral (
        select a.status, a.error, a.response_status from notification_attempts a
        where a.channel_id = c.id and a.attempt > 0 order by a.id desc limit 1
      ) latest
      left join lateral (
        select a.id from notification_attempts a
        where a.channel_id = c.id and a.attempt > 0 and a.status = 'delivered' order by a.id desc limit 1
      ) ok on true
      where c.enabled and latest.status in ('retrying', 'failed')`.execute(this.#db);
    return rows;
  }

  /** Channels disabled with a reason that starts with `reasonPrefix` (a receiver's 410 Gone). */
  async disabledFor(reasonPrefix: string): Promise<NotificationChannelRow[]> {
    return this.#db
      .selectFrom('notification_channels')
      .selectAll()
      .where('enabled', '=', false)
      .where('disabled_reason', 'like', `${reasonPrefix.replace(/[\\%_]/g, '\\$&')}%`)
      .execute();
  }

  /**
   * The enabled channels the users made in their personal workspaces, in-app ones and `except` left
   * out: where a system alert goes for them.
   */
  async personalOf(
    userIds: readonly string[],
    except: readonly string[] = [],
  ): Promise<NotificationChannelRow[]> {
    if (userIds.length === 0) return [];
    let query = this.#db
      .selectFrom('notification_channels as c')
      .innerJoin('workspaces as w', (j) =>
        j.onRef('w.id', '=', 'c.workspace_id').onRef('w.personal_of', '=', 'c.created_by'),
      )
      .selectAll('c')
      .where('c.created_by', 'in', userIds)
      .where('c.enabled', '=', true)
      .where('c.type', '<>', 'in-app')
      .orderBy('c.created_at');
    if (except.length > 0) query = query.where('c.id', 'not in', except);
    return query.execute();
  }
}

/** A channel every attempt of which has failed since `failingSince`. */
export interface FailingChannel {
  channelId: string;
  channelName: string;
  channelType: ChannelType;
  workspaceId: string;
  createdBy: string | null;
  failingSince: Date;
  lastError: string | null;
  lastResponseStatus: number | null;
}
