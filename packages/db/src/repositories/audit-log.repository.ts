import type { Kysely } from 'kysely';
import type { AuditEntry, Database } from '../types.js';

/** One thing done in a workspace, as it is recorded. */
export interface NewAuditEntry {
  workspaceId: string;
  /** Who did it; null for the system (a cleanup by an instance admin is still theirs). */
  actor: { id: string; email: string } | null;
  /** What was done, `resource.verb` (e.g. `member.role_changed`, `share.created`). */
  action: string;
  target?: { type: string; id: string };
  /** What else the entry needs to say (a role, a name, a count); never a secret. */
  details?: Record<string, unknown>;
}

/** Repository of `audit_log`: a workspace's record of who did what and when, newest first. */
export class AuditLogRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async record(entry: NewAuditEntry): Promise<void> {
    await this.#db
      .insertInto('audit_log')
      .values({
        workspace_id: entry.workspaceId,
        actor_id: entry.actor?.id ?? null,
        actor_email: entry.actor?.email ?? null,
        action: entry.action,
        target_type: entry.target?.type ?? null,
        target_id: entry.target?.id ?? null,
        details: JSON.stringify(entry.details ?? {}),
      })
      .execute();
  }

  /** One page of the workspace's log, newest first, after the entry `afterId`; `nextAfterId` when there is more. */
  async list(
    workspaceId: string,
    page: { afterId?: string; limit: number },
  ): Promise<{ rows: AuditEntry[]; nextAfterId: string | null }> {
    let q = this.#db.selectFrom('audit_log').selectAll().where('workspace_id', '=', workspaceId);
    if (page.afterId) q = q.where('id', '<', page.afterId);
    const rows = await q
      .orderBy('id', 'desc')
      .limit(page.limit + 1)
      .execute();
    const more = rows.length > page.limit;
    if (more) rows.pop();
    return { rows, nextAfterId: more ? rows.at(-1)!.id : null };
  }
}
