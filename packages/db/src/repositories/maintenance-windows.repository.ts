import type { Kysely } from 'kysely';
import type { Database, MaintenanceWindowRow } from '../types.js';

/** A window as it goes in: its monitors (null: all of the workspace's) and its checked times. */
export interface NewMaintenanceWindow {
  workspaceId: string;
  name: string;
  monitorIds: string[] | null;
  startsAt: Date | null;
  endsAt: Date | null;
  cron: string | null;
  durationMinutes: number | null;
  timezone: string | null;
}

export type MaintenanceWindowChanges = Partial<Omit<NewMaintenanceWindow, 'workspaceId'>>;

/** Repository of `maintenance_windows`: the times a workspace's monitors are not run nor alerted on. */
export class MaintenanceWindowsRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async create(w: NewMaintenanceWindow): Promise<MaintenanceWindowRow> {
    return this.#db
      .insertInto('maintenance_windows')
      .values({
        workspace_id: w.workspaceId,
        name: w.name,
        monitor_ids: w.monitorIds,
        starts_at: w.startsAt,
        ends_at: w.endsAt,
        cron: w.cron,
        duration_minutes: w.durationMinutes,
        timezone: w.timezone,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async find(id: string, workspaceId: string): Promise<MaintenanceWindowRow | undefined> {
    return this.#db
      .selectFrom('maintenance_windows')
      .selectAll()
      .where('id', '=', id)
      .where('workspace_id', '=', workspaceId)
      .executeTakeFirst();
  }

  /** The windows of the workspaces, newest first. */
  async list(workspaceIds: readonly string[]): Promise<MaintenanceWindowRow[]> {
    if (workspaceIds.length === 0) return [];
    return this.#db
      .selectFrom('maintenance_windows')
      .selectAll()
      .where('workspace_id', 'in', [...workspaceIds])
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .execute();
  }

  async update(
    id: string,
    workspaceId: string,
    c: MaintenanceWindowChanges,
  ): Promise<MaintenanceWindowRow | undefined> {
    const set: Record<string, unknown> = {};
    if (c.name !== undefined) set.name = c.name;
    if (c.monitorIds !== undefined) set.monitor_ids = c.monitorIds;
    if (c.startsAt !== undefined) set.starts_at = c.startsAt;
    if (c.endsAt !== undefined) set.ends_at = c.endsAt;
    if (c.cron !== undefined) set.cron = c.cron;
    if (c.durationMinutes !== undefined) set.duration_minutes = c.durationMinutes;
    if (c.timezone !== undefined) set.timezone = c.timezone;
    if (Object.keys(set).length === 0) return this.find(id, workspaceId);
    return this.#db
      .updateTable('maintenance_windows')
      .set(set)
      .where('id', '=', id)
      .where('workspace_id', '=', workspaceId)
      .returningAll()
      .executeTakeFirst();
  }

  /** Whether there was such a window to delete. */
  async delete(id: string, workspaceId: string): Promise<boolean> {
    const res = await this.#db
      .deleteFrom('maintenance_windows')
      .where('id', '=', id)
      .where('workspace_id', '=', workspaceId)
      .executeTakeFirst();
    return res.numDeletedRows > 0n;
  }
}
