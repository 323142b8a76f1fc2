import type { Kysely } from 'kysely';
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
  }): Promise<Invitation> {
    return this.#db
      .insertInto('invitations')
      .values({
        token_hash: values.tokenHash,
        email: values.email,
        created_by: values.createdBy,
        expires_at: values.expiresAt,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** The newest `limit` invitations, without their token hashes. */
  list(limit: number): Promise<InvitationSummary[]> {
    return this.#db
      .selectFrom('invitations')
      .select(['id', 'email', 'created_by', 'created_at', 'expires_at', 'used_at', 'used_by', 'revoked_at'])
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  /** Revokes an invitation nobody has used yet; false when it is unknown, used or already revoked. */
  async revoke(id: string): Promise<boolean> {
    const res = await this.#db
      .updateTable('invitations')
      .set({ revoked_at: new Date() })
      .where('id', '=', id)
      .where('used_at', 'is', null)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return res.numUpdatedRows > 0n;
  }

  /**
   * Marks the invitation with this token hash used by `userId`, if it is unused, unrevoked,
   * unexpired and meant for `email` (or for anyone); false otherwise. One UPDATE: of two
   * registrations racing for one invitation, exactly one gets it.
   */
  async use(tokenHash: string, email: string, userId: string): Promise<boolean> {
    const res = await this.#db
      .updateTable('invitations')
      .set({ used_at: new Date(), used_by: userId })
      .where('token_hash', '=', tokenHash)
      .where('used_at', 'is', null)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', new Date())
      .where((eb) => eb.or([eb('email', 'is', null), eb('email', '=', email)]))
      .executeTakeFirst();
    return res.numUpdatedRows > 0n;
  }
}
