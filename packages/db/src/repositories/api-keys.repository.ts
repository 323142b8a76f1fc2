import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { WorkspaceRole } from '@crucible/contracts';
import type { ApiKey, Database, User } from '../types.js';

export type ApiKeySummary = Pick<ApiKey, 'id' | 'name' | 'key_prefix' | 'created_at' | 'last_used_at'>;

export class ApiKeysRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Creates a key acting in `access.workspaceId` with `access.role` (the caller checks that the
   * role is no higher than the user's there). @defaultValue access: the user's personal workspace, as its owner
   */
  create(
    userId: string,
    name: string,
    keyHash: string,
    keyPrefix: string,
    access?: { workspaceId: string; role: WorkspaceRole },
  ): Promise<ApiKey> {
    return this.#db
      .insertInto('api_keys')
      .values({
        user_id: userId,
        name,
        key_hash: keyHash,
        key_prefix: keyPrefix,
        workspace_id: (eb) =>
          access
            ? eb.val(access.workspaceId)
            : eb.selectFrom('workspaces').select('id').where('personal_of', '=', userId),
        role: access?.role ?? 'owner',
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  listForUser(userId: string): Promise<ApiKeySummary[]> {
    return this.#db
      .selectFrom('api_keys')
      .select(['id', 'name', 'key_prefix', 'created_at', 'last_used_at'])
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .orderBy('created_at', 'desc')
      .execute();
  }

  /** Revokes one of the user's keys; false when it is not theirs or already revoked. */
  async revoke(userId: string, id: string): Promise<boolean> {
    return (await this.revokeKey(userId, id)) !== undefined;
  }

  /** {@link revoke}, answering the revoked key's name and workspace (for the audit log). */
  revokeKey(userId: string, id: string): Promise<{ name: string; workspace_id: string | null } | undefined> {
    return this.#db
      .updateTable('api_keys')
      .set({ revoked_at: new Date() })
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .returning(['name', 'workspace_id'])
      .executeTakeFirst();
  }

  /** The owner of an active key with this hash, with the workspace the key acts in and its role there. */
  async findUserByKeyHash(
    keyHash: string,
  ): Promise<
    (User & { api_key_id: string; api_key_workspace_id: string; api_key_role: WorkspaceRole }) | undefined
  > {
    return this.#db
      .selectFrom('api_keys')
      .innerJoin('users', 'users.id', 'api_keys.user_id')
      .selectAll('users')
      .select([
        'api_keys.id as api_key_id',
        'api_keys.workspace_id as api_key_workspace_id',
        'api_keys.role as api_key_role',
      ])
      .where('api_keys.key_hash', '=', keyHash)
      .where('api_keys.revoked_at', 'is', null)
      .executeTakeFirst();
  }

  /** Which of these keys are still active (not revoked, not deleted): the gateway's revocation check. */
  async activeIds(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.#db
      .selectFrom('api_keys')
      .select('id')
      .where('id', 'in', ids)
      .where('revoked_at', 'is', null)
      .execute();
    return new Set(rows.map((r) => r.id));
  }

  /** Moves the keys' last use forward (never back) to the given times, in one statement. */
  async recordUse(uses: ReadonlyMap<string, Date>): Promise<void> {
    if (uses.size === 0) return;
    const ids = [...uses.keys()];
    const ats = [...uses.values()].map((at) => at.toISOString());
    await sql`
      UPDATE api_keys AS k SET last_used_at = u.at
      FROM unnest(${ids}::uuid[], ${ats}::timestamptz[]) AS u(id, at)
      WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)
    `.execute(this.#db);
  }
}
