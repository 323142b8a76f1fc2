import type { AuditEntryView } from '@crucible/contracts/api';
import type { AuditLogRepository, NewAuditEntry } from '@crucible/db';
import { HttpProblem } from '../errors.js';
import type { Actor } from './workspace-access.js';

/**
 * What the audit log records (DESIGN.md, "Audit log"), `resource.verb`. Every place that does one
 * of these names it from here.
 */
export const AuditActions = {
  WORKSPACE_CREATED: 'workspace.created',
  WORKSPACE_RENAMED: 'workspace.renamed',
  MEMBER_JOINED: 'member.joined',
  MEMBER_ROLE_CHANGED: 'member.role_changed',
  MEMBER_REMOVED: 'member.removed',
  MEMBER_LEFT: 'member.left',
  INVITATION_CREATED: 'invitation.created',
  INVITATION_ACCEPTED: 'invitation.accepted',
  INVITATION_REVOKED: 'invitation.revoked',
  API_KEY_CREATED: 'api_key.created',
  API_KEY_REVOKED: 'api_key.revoked',
  SHARE_CREATED: 'share.created',
  SHARE_REVOKED: 'share.revoked',
  TESTS_CLEANED_UP: 'tests.cleaned_up',
  /** An instance admin overrode the workspace's quotas. */
  QUOTAS_CHANGED: 'workspace.quotas_changed',
} as const;
export type AuditAction = (typeof AuditActions)[keyof typeof AuditActions];

/** Records one entry: who (the acting user), what, on what. */
export type Audit = (
  who: Pick<Actor, 'id' | 'email'> | null,
  workspaceId: string,
  action: AuditAction,
  target?: NewAuditEntry['target'],
  details?: Record<string, unknown>,
) => Promise<void>;

/**
 * The audit recorder. It runs after the action succeeded: a failure to record is logged, not
 * answered — the action happened, and answering 500 would make the client do it again.
 */
export function createAudit(
  log: Pick<AuditLogRepository, 'record'>,
  logger: { error(obj: object, msg: string): void },
): Audit {
  return async (who, workspaceId, action, target, details) => {
    try {
      await log.record({
        workspaceId,
        actor: who && { id: who.id, email: who.email },
        action,
        target,
        details,
      });
    } catch (err) {
      logger.error({ err, action, workspaceId }, 'could not record an audit entry');
    }
  };
}

const encodeCursor = (id: string) => Buffer.from(`a1:${id}`).toString('base64url');
function decodeCursor(cursor: string): string {
  const match = /^a1:(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match)
    throw new HttpProblem(400, 'INVALID_CURSOR', 'Bad Request', 'cursor is not one this API returned');
  return match[1]!;
}

/** A page of the actor's workspace's log, newest first; cursors are opaque, as the tests list's. */
export async function auditPage(
  repo: Pick<AuditLogRepository, 'list'>,
  actor: Actor,
  query: { limit?: number; cursor?: string },
): Promise<{ items: AuditEntryView[]; nextCursor: string | null }> {
  const page = await repo.list(actor.workspaceId, {
    afterId: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
    limit: query.limit ?? 50,
  });
  return {
    items: page.rows.map((row) => ({
      id: row.id,
      action: row.action,
      actor: row.actor_email === null ? null : { id: row.actor_id, email: row.actor_email },
      target: row.target_type && row.target_id ? { type: row.target_type, id: row.target_id } : null,
      details: row.details,
      createdAt: row.created_at.toISOString(),
    })),
    nextCursor: page.nextAfterId === null ? null : encodeCursor(page.nextAfterId),
  };
}
