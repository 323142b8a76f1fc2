import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestsRepository, UsersRepository, createDb, migrateToLatest } from '../src/index.js';
import type { Db } from '../src/index.js';
import { createTestDatabase } from '../src/testing.js';

type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;

describe('TestsRepository.runningAndMeans', () => {
  let database: TestDatabase;
  let db: Db;
  beforeAll(async () => {
    database = await createTestDatabase();
    db = createDb(database.url);
    await migrateToLatest(db.kysely);
  });
  afterAll(async () => {
    await db.close();
    await database.drop();
  });

  it("averages each type's 50 latest completed tests, older ones, failures and unfinished tests left out", async () => {
    const k = db.kysely;
    const user = (await new UsersRepository(k).create('means@example.test', 'h'))!;
    // Test g of a type ended g minutes ago and took `took` seconds.
    const insert = (type: string, status: string, from: number, to: number, took: number) =>
      sql`INSERT INTO test_queue (test_id, test_type, url, status, user_id, started_at, completed_at)
        SELECT gen_random_uuid(), ${type}, 'https://example.test/', ${status}, ${user.id},
          now() - g * interval '1 minute' - ${took} * interval '1 second', now() - g * interval '1 minute'
        FROM generate_series(${from}::int, ${to}::int) g`.execute(k);
    await insert('performance', 'completed', 1, 50, 2); // the latest 50: 2 s each
    await insert('performance', 'completed', 51, 80, 100); // older: not in the mean
    await insert('performance', 'failed', 0, 0, 500); // failed, however recent: not in it
    await insert('api', 'completed', 1, 3, 4);
    await sql`INSERT INTO test_queue (test_id, test_type, url, status, user_id, started_at)
      VALUES (gen_random_uuid(), 'seo', 'https://example.test/', 'running', ${user.id}, now() - interval '30 seconds')`.execute(
      k,
    );
    await sql`INSERT INTO test_queue (test_id, test_type, url, status, user_id, completed_at)
      VALUES (gen_random_uuid(), 'security', 'https://example.test/', 'completed', ${user.id}, now())`.execute(k);

    const { running, meanSecByType } = await new TestsRepository(k).runningAndMeans();

    // A completed test without a start (security) has no duration to average.
    expect(meanSecByType).toEqual({ performance: 2, api: 4 });
    expect(running).toHaveLength(1);
    expect(running[0]!.testType).toBe('seo');
    expect(Math.round(running[0]!.elapsedSec)).toBe(30);
  });
});
