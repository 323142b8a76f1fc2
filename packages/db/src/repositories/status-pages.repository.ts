import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Database, StatusPageRow } from '../types.js';

export interface NewStatusPage {
  workspaceId: string;
  slug: string;
  title: string;
  monitorIds: string[];
  public: boolean;
  showUrls: boolean;
}

export type StatusPageChanges = Partial<Omit<NewStatusPage, 'workspaceId'>>;

/** One UTC day of a monitor's finished runs: how many, and how many were not down. */
export interface UptimeDay {
  monitor_id: string;
  day: string;
  finished: number;
  up: number;
}

/** Repository of `status_pages`: public pages of a workspace's chosen monitors, by slug. */
export class StatusPagesRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Undefined when the slug is taken (by any workspace: slugs are the instance's). */
  async create(p: NewStatusPage): Promise<StatusPageRow | undefined> {
    return this.#db
      .insertInto('status_pages')
      .values({
        workspace_id: p.workspaceId,
        slug: p.slug,
        title: p.title,
        monitor_ids: p.monitorIds,
        public: p.public,
        show_urls: p.showUrls,
      })
      .onConflict((oc) => oc.column('slug').doNothing())
      .returningAll()
      .executeTakeFirst();
  }

  async find(id: string, workspaceId: string): Promise<StatusPageRow | undefined> {
    return this.#db
      .selectFrom('status_pages')
      .selectAll()
      .where('id', '=', id)
      .where('workspace_id', '=', workspaceId)
      .executeTakeFirst();
  }

  async findBySlug(slug: string): Promise<StatusPageRow | undefined> {
    return this.#db.selectFrom('status_pages').selectAll().where('slug', '=', slug).executeTakeFirst();
  }

  async list(workspaceId: string): Promise<StatusPageRow[]> {
    return this.#db
      .selectFrom('status_pages')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .orderBy('slug')
      .execute();
  }

  /** The changed page; `taken` when the new slug is another page's. */
  async update(
    id: string,
    workspaceId: string,
    c: StatusPageChanges,
  ): Promise<{ page: StatusPageRow | undefined; before?: StatusPageRow; taken?: true }> {
    return this.#db.transaction().execute(async (trx) => {
      const before = await trx
        .selectFrom('status_pages')
        .selectAll()
        .where('id', '=', id)
        .where('workspace_id', '=', workspaceId)
        .forUpdate()
        .executeTakeFirst();
      if (!before) return { page: undefined };
      const set: Record<string, unknown> = {};
      if (c.slug !== undefined) set.slug = c.slug;
      if (c.title !== undefined) set.title = c.title;
      if (c.monitorIds !== undefined) set.monitor_ids = c.monitorIds;
      if (c.public !== undefined) set.public = c.public;
      if (c.showUrls !== undefined) set.show_urls = c.showUrls;
      if (Object.keys(set).length === 0) return { page: before, before };
      if (c.slug !== undefined && c.slug !== before.slug) {
        const other = await trx
          .selectFrom('status_pages')
          .select('id')
          .where('slug', '=', c.slug)
          .executeTakeFirst();
        if (other) return { page: undefined, before, taken: true };
      }
      const page = await trx
        .updateTable('status_pages')
        .set(set)
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      return { page, before };
    });
  }

  async delete(id: string, workspaceId: string): Promise<StatusPageRow | undefined> {
    return this.#db
      .deleteFrom('status_pages')
      .where('id', '=', id)
      .where('workspace_id', '=', workspaceId)
      .returningAll()
      .executeTakeFirst();
  }

  /** The incidents of `monitorIds` not resolved yet (open or acknowledged), oldest first, in one statement. */
  async openIncidents(monitorIds: string[]): Promise<{ monitor_id: string; rule_name: string; opened_at: Date }[]> {
    if (monitorIds.length === 0) return [];
    return this.#db
      .selectFrom('incidents')
      .select(['monitor_id as monitor_id', 'rule_name', 'opened_at'])
      .where('monitor_id', 'in', monitorIds)
      .where('status', '<>', 'resolved')
      .orderBy('opened_at')
      .execute() as Promise<{ monitor_id: string; rule_name: string; opened_at: Date }[]>;
  }

  /** Each monitor's finished runs per UTC day over the last `days` days (today included), in one statement. */
  async uptimeDays(monitorIds: string[], days: number): Promise<UptimeDay[]> {
    if (monitorIds.length === 0) return [];
    const { rows } = await sql<UptimeDay>`
      SELECT monitor_id, to_char(scheduled_for AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
        count(*)::int AS finished, (count(*) FILTER (WHERE state <> 'down'))::int AS up
      FROM monitor_slots
      WHERE monitor_id = ANY(${monitorIds}::uuid[]) AND state IS NOT NULL
        AND scheduled_for >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - make_interval(days => ${days - 1})
      GROUP BY monitor_id, day`.execute(this.#db);
    return rows;
  }
}
