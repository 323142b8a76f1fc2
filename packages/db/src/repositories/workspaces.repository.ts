import type { Kysely } from 'kysely';
import type { WorkspaceRole } from '@crucible/contracts';
import type { Database, Workspace } from '../types.js';
import { WorkspaceMembersRepository } from './workspace-members.repository.js';

/** A workspace as one of its members sees it: with their role. */
export type MembershipView = Workspace & { role: WorkspaceRole };

/** The name every personal workspace starts with. */
export const PERSONAL_WORKSPACE_NAME = 'Personal';

/** Repository of `workspaces`. */
export class WorkspacesRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Creates a workspace with `ownerId` as its owner, in one transaction (or in the caller's):
   * a workspace never exists without an owner. `personal`: the owner's personal workspace.
   */
  async create(name: string, ownerId: string, personal = false): Promise<Workspace> {
    const make = async (trx: Kysely<Database>) => {
      const workspace = await trx
        .insertInto('workspaces')
        .values({ name, personal_of: personal ? ownerId : null })
        .returningAll()
        .executeTakeFirstOrThrow();
      await new WorkspaceMembersRepository(trx).add(workspace.id, ownerId, 'owner');
      return workspace;
    };
    return this.#db.isTransaction ? make(this.#db) : this.#db.transaction().execute(make);
  }

  /** The user's workspaces with their role in each: the personal one first, then by name. */
  listForUser(userId: string): Promise<MembershipView[]> {
    return this.#db
      .selectFrom('workspaces')
      .innerJoin('workspace_members', 'workspace_members.workspace_id', 'workspaces.id')
      .selectAll('workspaces')
      .select('workspace_members.role')
      .where('workspace_members.user_id', '=', userId)
      .orderBy((eb) => eb('workspaces.personal_of', 'is', null))
      .orderBy('workspaces.name')
      .orderBy('workspaces.id')
      .execute();
  }

  /** The workspace with the user's role in it, or undefined when it does not exist or they are not a member. */
  findForMember(workspaceId: string, userId: string): Promise<MembershipView | undefined> {
    return this.#db
      .selectFrom('workspaces')
      .innerJoin('workspace_members', 'workspace_members.workspace_id', 'workspaces.id')
      .selectAll('workspaces')
      .select('workspace_members.role')
      .where('workspaces.id', '=', workspaceId)
      .where('workspace_members.user_id', '=', userId)
      .executeTakeFirst();
  }

  /** The user's personal workspace. */
  findPersonal(userId: string): Promise<Workspace | undefined> {
    return this.#db.selectFrom('workspaces').selectAll().where('personal_of', '=', userId).executeTakeFirst();
  }

  findById(workspaceId: string): Promise<Workspace | undefined> {
    return this.#db.selectFrom('workspaces').selectAll().where('id', '=', workspaceId).executeTakeFirst();
  }

  async rename(workspaceId: string, name: string): Promise<Workspace | undefined> {
    return this.#db
      .updateTable('workspaces')
      .set({ name })
      .where('id', '=', workspaceId)
      .returningAll()
      .executeTakeFirst();
  }

  /** Deletes a team's workspace with everything it owns; a personal one is never deleted (false). */
  async delete(workspaceId: string): Promise<boolean> {
    const res = await this.#db
      .deleteFrom('workspaces')
      .where('id', '=', workspaceId)
      .where('personal_of', 'is', null)
      .executeTakeFirst();
    return res.numDeletedRows > 0n;
  }
}
