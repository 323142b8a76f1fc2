import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Database, User } from '../types.js';

export class UsersRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Creates a user; the first user of an empty database becomes `admin`. A transaction-scoped
   * advisory lock makes "first" exact even when two registrations race. Returns undefined when
   * the email is taken.
   */
  async create(email: string, passwordHash: string): Promise<User | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(hashtext('crucible:users:first-admin'))`.execute(trx);
      const any = await trx.selectFrom('users').select('id').limit(1).executeTakeFirst();
      return trx
        .insertInto('users')
        .values({ email, password_hash: passwordHash, role: any ? 'user' : 'admin' })
        .onConflict((oc) => oc.column('email').doNothing())
        .returningAll()
        .executeTakeFirst();
    });
  }

  findByEmail(email: string): Promise<User | undefined> {
    return this.#db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
  }

  findById(id: string): Promise<User | undefined> {
    return this.#db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }
}
