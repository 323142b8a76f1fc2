import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { WorkspaceRole } from '@crucible/contracts';
import type { Database } from '../types.js';
import { InvitationsRepository } from './invitations.repository.js';

export interface MemberView {
  user_id: string;
  email: string;
  role: WorkspaceRole;
  created_at: Date;
}

/** Why a change of members was refused. */
export type MemberChangeRefusal = 'NOT_A_MEMBER' | 'LAST_OWNER';

/** Repository of `workspace_members`: who is in which workspace, with which role. */
export class WorkspaceMembersRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Adds a member; false when the user already is one (their role is left as it is). */
  async add(workspaceId: string, userId: string, role: WorkspaceRole): Promise<boolean> {
    const res = await this.#db
      .insertInto('workspace_members')
      .values({ workspace_id: workspaceId, user_id: userId, role })
      .onConflict((oc) => oc.columns(['workspace_id', 'user_id']).doNothing())
      .returning('user_id')
      .executeTakeFirst();
    return res !== undefined;
  }

  /**
   * Uses a workspace's invitation for the signed-in user (`email` must be the one it names) and
   * makes them a member with its role, in one transaction; a user already a member keeps their
   * role. Undefined when the invitation is unknown, used, revoked, expired, for another email or
   * not a workspace's.
   */
  async join(
    tokenHash: string,
    email: string,
    userId: string,
  ): Promise<{ workspaceId: string; role: WorkspaceRole } | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const invitation = await new InvitationsRepository(trx).use(tokenHash, email, userId);
      if (!invitation?.workspace_id || !invitation.workspace_role) return undefined;
      const members = new WorkspaceMembersRepository(trx);
      await members.add(invitation.workspace_id, userId, invitation.workspace_role);
      const role = (await members.roleOf(invitation.workspace_id, userId))!;
      return { workspaceId: invitation.workspace_id, role };
    });
  }

  /** The user's role in the workspace, or undefined when they are not a member. */
  async roleOf(workspaceId: string, userId: string): Promise<WorkspaceRole | undefined> {
    const row = await this.#db
      .selectFrom('workspace_members')
      .select('role')
      .where('workspace_id', '=', workspaceId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row?.role;
  }

  /** The workspace's members, owners first, then by when they joined. */
  list(workspaceId: string): Promise<MemberView[]> {
    return this.#db
      .selectFrom('workspace_members')
      .innerJoin('users', 'users.id', 'workspace_members.user_id')
      .select([
        'workspace_members.user_id',
        'users.email',
        'workspace_members.role',
        'workspace_members.created_at',
      ])
      .where('workspace_members.workspace_id', '=', workspaceId)
      .orderBy(sql`workspace_members.role = 'owner'`, 'desc')
      .orderBy('workspace_members.created_at')
      .orderBy('workspace_members.user_id')
      .execute();
  }

  /** Changes a member's role; refused when it would leave the workspace without an owner. */
  setRole(workspaceId: string, userId: string, role: WorkspaceRole): Promise<MemberChangeRefusal | null> {
    return this.#change(workspaceId, userId, role === 'owner', (trx) =>
      trx
        .updateTable('workspace_members')
        .set({ role })
        .where('workspace_id', '=', workspaceId)
        .where('user_id', '=', userId)
        .execute(),
    );
  }

  /** Removes a member; refused when they are its last owner. */
  remove(workspaceId: string, userId: string): Promise<MemberChangeRefusal | null> {
    return this.#change(workspaceId, userId, false, (trx) =>
      trx
        .deleteFrom('workspace_members')
        .where('workspace_id', '=', workspaceId)
        .where('user_id', '=', userId)
        .execute(),
    );
  }

  /**
   * Of these (workspace, user) pairs, the ones still members: the gateway's periodic re-check
   * of the sockets reading workspace channels. Keys are `${workspaceId}:${userId}`.
   */
  async activePairs(pairs: { workspaceId: string; userId: string }[]): Promise<Set<string>> {
    if (pairs.length === 0) return new Set();
    const { rows } = await sql<{ workspace_id: string; user_id: string }>`
      SELECT m.workspace_id, m.user_id FROM workspace_members m
      JOIN unnest(${pairs.map((p) => p.workspaceId)}::uuid[], ${pairs.map((p) => p.userId)}::uuid[])
        AS p(workspace_id, user_id) ON m.workspace_id = p.workspace_id AND m.user_id = p.user_id`.execute(
      this.#db,
    );
    return new Set(rows.map((r) => `${r.workspace_id}:${r.user_id}`));
  }

  /**
   * Runs `write` under a lock of the workspace's row, after checking that the user is a member and
   * that, unless they stay an owner, another owner remains: two owners demoting each other at once
   * cannot both succeed.
   */
  async #change(
    workspaceId: string,
    userId: string,
    staysOwner: boolean,
    write: (trx: Kysely<Database>) => Promise<unknown>,
  ): Promise<MemberChangeRefusal | null> {
    return this.#db.transaction().execute(async (trx) => {
      await trx.selectFrom('workspaces').select('id').where('id', '=', workspaceId).forUpdate().execute();
      const members = await trx
        .selectFrom('workspace_members')
        .select(['user_id', 'role'])
        .where('workspace_id', '=', workspaceId)
        .execute();
      const member = members.find((m) => m.user_id === userId);
      if (!member) return 'NOT_A_MEMBER';
      const owners = members.filter((m) => m.role === 'owner').length;
      if (member.role === 'owner' && !staysOwner && owners <= 1) return 'LAST_OWNER';
      await write(trx);
      return null;
    });
  }
}
