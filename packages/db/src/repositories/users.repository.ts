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
}
