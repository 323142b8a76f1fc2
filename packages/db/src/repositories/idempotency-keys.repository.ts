import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Database } from '../types.js';

/**
 * Repository of `idempotency_keys`. A key is claimed in the same statement that inserts its test
 * ({@link TestsRepository.createMany}); here it only expires.
 */
export class IdempotencyKeysRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Idempotency keys live 24 hours; older ones are only dead weight. */
  async deleteExpired(): Promise<number> {
    const res = await this.#db
      .deleteFrom('idempotency_keys')
      .where('created_at', '<', sql<Date>`now() - interval '24 hours'`)
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}
