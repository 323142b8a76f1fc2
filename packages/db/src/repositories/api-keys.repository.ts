import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { ApiKey, Database, User } from '../types.js';

export type ApiKeySummary = Pick<ApiKey, 'id' | 'name' | 'key_prefix' | 'created_at' | 'last_used_at'>;

export class ApiKeysRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  create(userId: string, name: string, keyHash: string, keyPrefix: string): Promise<ApiKey> {
    return this.#db
      .insertInto('api_keys')
      .values({ user_id: userId, name, key_hash: keyHash, key_prefix: keyPrefix })
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
    const res = await this.#db
      .updateTable('api_keys')
      .set({ revoked_at: new Date() })
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return res.numUpdatedRows > 0n;
  }

  /** The owner of an active key with this hash. */
  async findUserByKeyHash(keyHash: string): Promise<(User & { api_key_id: string }) | undefined> {
    return this.#db
      .selectFrom('api_keys')
      .innerJoin('users', 'users.id', 'api_keys.user_id')
      .selectAll('users')
      .select('api_keys.id as api_key_id')
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
