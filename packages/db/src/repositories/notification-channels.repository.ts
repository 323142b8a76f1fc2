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
}
