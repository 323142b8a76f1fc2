import { afterAll, beforeAll } from 'vitest';
import { createDb, migrateToLatest } from '../src/index.js';
import type { Db } from '../src/index.js';
import { createTestDatabase } from '../src/testing.js';

/**
 * A database of the enclosing `describe`'s own, migrated to the latest schema before its tests and
 * dropped after them: `const database = migratedDatabase();` then `database.db` inside the tests.
 */
export function migratedDatabase(): { readonly db: Db } {
  let dropped: (() => Promise<void>) | undefined;
  let db: Db | undefined;
  beforeAll(async () => {
    const database = await createTestDatabase();
    dropped = database.drop;
    db = createDb(database.url);
    await migrateToLatest(db.kysely);
  });
  afterAll(async () => {
    await db?.close();
    await dropped?.();
  });
  return {
    get db() {
      if (!db) throw new Error('the database is made in beforeAll: ask for it inside a test');
      return db;
    },
  };
}
