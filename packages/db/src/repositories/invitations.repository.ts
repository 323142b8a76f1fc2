import type { Kysely } from 'kysely';
import type { WorkspaceRole } from '@crucible/contracts';
import type { Database, Invitation } from '../types.js';

export type InvitationSummary = Omit<Invitation, 'token_hash'>;

export class InvitationsRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  create(values: {
    tokenHash: string;
    email: string | null;
    createdBy: string | null;
    expiresAt: Date;
    /** A workspace's invitation: the workspace it joins and the role it grants. @defaultValue none (an admin's) */
    workspace?: { id: string; role: WorkspaceRole };
  }): Promise<Invitation> {
    return this.#db
      .insertInto('invitations')
      .values({
        token_hash: values.tokenHash,
        email: values.email,
        created_by: values.createdBy,
        expires_at: values.expiresAt,
        workspace_id: values.workspace?.id ?? null,
        workspace_role: values.workspace?.role ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** The newest `limit` invitations an admin made (not workspaces'), without their token hashes. */
  list(limit: number): Promise<InvitationSummary[]> {
    return this.#db
      .selectFrom('invitations')
      .select([
        'id',
        'email',
        'created_by',
        'created_at',
        'expires_at',
        'used_at',
        'used_by',
        'revoked_at',
        'workspace_id',
        'workspace_role',
      ])
      .where('workspace_id', 'is', null)
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  /** Revokes an admin's invitation nobody has used yet; false when it is unknown, used or already revoked. */
  async revoke(id: string): Promise<boolean> {
    const res = await this.#db
      .updateTable('invitations')
      .set({ revoked_at: new Date() })
      .where('id', '=', id)
      .where('workspace_id', 'is', null)
      .where('used_at', 'is', null)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return res.numUpdatedRows > 0n;
  }

  /** A workspace's invitation nobody has used or revoked yet (expired or not), or undefined. */
  findOpen(
    workspaceId: string,
    id: string,
  ): Promise<Pick<Invitation, 'email' | 'workspace_role'> | undefined> {
    return this.#db
      .selectFrom('invitations')
      .select(['email', 'workspace_role'])
      .where('id', '=', id)
      .where('workspace_id', '=', workspaceId)
      .where('used_at', 'is', null)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
  }

  /**
   * A workspace's invitations nobody has used, revoked or let expire, newest first (at most
   * `limit`), with the email of who made each.
   */
  pendingInWorkspace(
    workspaceId: string,
    limit: number,
  ): Promise<
    (Pick<Invitation, 'id' | 'email' | 'workspace_role' | 'created_at' | 'expires_at'> & {
      invited_by: string | null;
    })[]
  > {
    return this.#db
      .selectFrom('invitations as i')
      .leftJoin('users as u', 'u.id', 'i.created_by')
      .select([
        'i.id',
        'i.email',
        'i.workspace_role',
        'i.created_at',
        'i.expires_at',
        'u.email as invited_by',
      ])
      .where('i.workspace_id', '=', workspaceId)
      .where('i.used_at', 'is', null)
      .where('i.revoked_at', 'is', null)
      .where('i.expires_at', '>', new Date())
      .orderBy('i.created_at', 'desc')
      .orderBy('i.id')
      .limit(limit)
      .execute();
  }

  /** Revokes a workspace's invitation nobody has used yet; false when it is not one of its open ones. */
  async revokeInWorkspace(workspaceId: string, id: string): Promise<boolean> {
    const res = await this.#db
      .updateTable('invitations')
      .set({ revoked_at: new Date() })
      .where('id', '=', id)
      .where('workspace_id', '=', workspaceId)
      .where('used_at', 'is', null)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return res.numUpdatedRows > 0n;
  }

  /**
   * Marks the invitation with this token hash used by `userId`, if it is unused, unrevoked,
   * unexpired and meant for `email` (or for anyone): the invitation, or undefined. One UPDATE: of
   * two registrations (or acceptances) racing for one invitation, exactly one gets it.
   */
  use(tokenHash: string, email: string, userId: string): Promise<Invitation | undefined> {
    return this.#db
      .updateTable('invitations')
      .set({ used_at: new Date(), used_by: userId })
      .where('token_hash', '=', tokenHash)
      .where('used_at', 'is', null)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', new Date())
      .where((eb) => eb.or([eb('email', 'is', null), eb('email', '=', email)]))
      .returningAll()
      .executeTakeFirst();
  }
}
