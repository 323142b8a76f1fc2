import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { WorkspaceRole } from '@crucible/contracts';
import type { Database, User } from '../types.js';
import { InvitationsRepository } from './invitations.repository.js';
import { WorkspaceMembersRepository } from './workspace-members.repository.js';
import { PERSONAL_WORKSPACE_NAME, WorkspacesRepository } from './workspaces.repository.js';

/** Rolls the registration's transaction back: the account was not to be made. */
class InvitationRefused extends Error {}

/** Inserts the user and their personal workspace (in the caller's transaction); undefined when the email is taken. */
async function insertUser(trx: Kysely<Database>, email: string, passwordHash: string) {
  await sql`SELECT pg_advisory_xact_lock(hashtext('crucible:users:first-admin'))`.execute(trx);
  const any = await trx.selectFrom('users').select('id').limit(1).executeTakeFirst();
  const user = await trx
    .insertInto('users')
    .values({ email, password_hash: passwordHash, role: any ? 'user' : 'admin' })
    .onConflict((oc) => oc.column('email').doNothing())
    .returningAll()
    .executeTakeFirst();
  if (user) await new WorkspacesRepository(trx).create(PERSONAL_WORKSPACE_NAME, user.id, true);
  return user;
}

/** A user made with an invitation, and the workspace it made them a member of (an admin's: none). */
export type InvitedUser = User & { joined: { workspaceId: string; role: WorkspaceRole } | null };

export class UsersRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Creates a user with their personal workspace; the first user of an empty database becomes `admin`. A transaction-scoped
   * advisory lock makes "first" exact even when two registrations race. Returns undefined when
   * the email is taken.
   */
  async create(email: string, passwordHash: string): Promise<User | undefined> {
    return this.#db.transaction().execute((trx) => insertUser(trx, email, passwordHash));
  }

  /**
   * Creates a user with an invitation, in one transaction: the invitation is used only if the
   * account is made, and the account is made only if the invitation was still good for it. A
   * workspace's invitation also makes the new user a member of that workspace, with its role.
   */
  async createInvited(
    email: string,
    passwordHash: string,
    invitationTokenHash: string,
  ): Promise<InvitedUser | 'EMAIL_TAKEN' | 'INVITATION_INVALID'> {
    try {
      return await this.#db.transaction().execute(async (trx) => {
        const user = await insertUser(trx, email, passwordHash);
        if (!user) return 'EMAIL_TAKEN' as const;
        const invitation = await new InvitationsRepository(trx).use(invitationTokenHash, email, user.id);
        if (!invitation) throw new InvitationRefused();
        if (invitation.workspace_id && invitation.workspace_role) {
          await new WorkspaceMembersRepository(trx).add(
            invitation.workspace_id,
            user.id,
            invitation.workspace_role,
          );
          return {
            ...user,
            joined: { workspaceId: invitation.workspace_id, role: invitation.workspace_role },
          };
        }
        return { ...user, joined: null };
      });
    } catch (err) {
      if (err instanceof InvitationRefused) return 'INVITATION_INVALID';
      throw err;
    }
  }

  /** Whether any account exists (registration is open until the first one, by default). */
  async any(): Promise<boolean> {
    return (await this.#db.selectFrom('users').select('id').limit(1).executeTakeFirst()) !== undefined;
  }

  findByEmail(email: string): Promise<User | undefined> {
    return this.#db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
  }

  /** The newest `limit` users (no password hashes) and how many there are in all. */
  async list(limit: number): Promise<{ users: Omit<User, 'password_hash'>[]; total: number }> {
    const [users, count] = await Promise.all([
      this.#db
        .selectFrom('users')
        .select(['id', 'email', 'role', 'created_at', 'updated_at'])
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .limit(limit)
        .execute(),
      this.#db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow(),
    ]);
    return { users, total: Number(count.n) };
  }

  findById(id: string): Promise<User | undefined> {
    return this.#db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Every admin's id: whom system alerts are told to. */
  async adminIds(): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('users')
      .select('id')
      .where('role', '=', 'admin')
      .orderBy('id')
      .execute();
    return rows.map((r) => r.id);
  }
}
