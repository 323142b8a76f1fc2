import { Kysely, PostgresDialect, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { TestsRepository, UsersRepository } from '../src/index.js';
import type { Database } from '../src/index.js';
import { migratedDatabase } from './database.js';

describe('TestsRepository.runningAndMeans', () => {
  const database = migratedDatabase();

  it("averages each type's 50 latest completed tests, older ones, failures and unfinished tests left out", async () => {
    const k = database.db.kysely;
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
      VALUES (gen_random_uuid(), 'security', 'https://example.test/', 'completed', ${user.id}, now())`.execute(
      k,
    );

    const { running, meanSecByType } = await new TestsRepository(k).runningAndMeans();

    // A completed test without a start (security) has no duration to average.
    expect(meanSecByType).toEqual({ performance: 2, api: 4 });
    expect(running).toHaveLength(1);
    expect(running[0]!.testType).toBe('seo');
    expect(Math.round(running[0]!.elapsedSec)).toBe(30);
  });
});

describe('TestsRepository.list, URL search', () => {
  const database = migratedDatabase();

  it('finds what the plain filter finds, long URLs too, page by page, and reads URLs from the search index', async () => {
    const k = database.db.kysely;
    const users = new UsersRepository(k);
    const alice = (await users.create('search-alice@example.test', 'h'))!;
    const bob = (await users.create('search-bob@example.test', 'h'))!;
    const workspaceOf = async (userId: string) =>
      (await sql<{ id: string }>`SELECT id FROM workspaces WHERE personal_of = ${userId}`.execute(k)).rows[0]!
        .id;
    const aliceWs = await workspaceOf(alice.id);
    const bobWs = await workspaceOf(bob.id);
    // Test g: alternately each one's, of varied URL, type and status; every 7th URL is past what
    // the search index takes (2,000 bytes) and carries the searched text only at its end.
    const types = ['performance', 'api', 'seo'];
    const statuses = ['completed', 'failed', 'queued'];
    const urlOf = (g: number) =>
      g % 7 === 0
        ? `https://long-${g}.example.test/${'x'.repeat(2100)}/SHOP`
        : `https://${g % 3 === 0 ? 'Shop' : 'blog'}-${g}.example.test/a_b${g % 5}`;
    const made: { id: string; ws: string; user: string; url: string; type: string; status: string }[] = [];
    for (let g = 1; g <= 60; g++) {
      const ws = g % 2 === 0 ? aliceWs : bobWs;
      // Bob is a member of Alice's workspace too: every tenth test there is his.
      const user = g % 2 === 0 && g % 10 !== 0 ? alice.id : bob.id;
      const row = (
        await sql<{
          id: string;
        }>`INSERT INTO test_queue (test_id, test_type, url, status, user_id, workspace_id)
          VALUES (gen_random_uuid(), ${types[g % 3]}, ${urlOf(g)}, ${statuses[g % 4 === 0 ? 2 : g % 2]},
            ${user}, ${ws}) RETURNING id`.execute(k)
      ).rows[0]!;
      made.push({
        id: row.id,
        ws,
        user,
        url: urlOf(g),
        type: types[g % 3]!,
        status: statuses[g % 4 === 0 ? 2 : g % 2]!,
      });
    }

    const queries: { sql: string; parameters: readonly unknown[] }[] = [];
    const logged = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: database.db.pool }),
      log: (event) => {
        if (event.level === 'query')
          queries.push({ sql: event.query.sql, parameters: event.query.parameters });
      },
    });
    const repo = new TestsRepository(logged);
    const viewer = { id: alice.id, role: 'user' as const, workspaceId: aliceWs };
    const searches: {
      urlContains: string;
      status?: 'completed' | 'queued';
      testType?: 'api';
      ownerEmail?: string;
    }[] = [
      { urlContains: 'shop' },
      { urlContains: 'SHOP', status: 'queued' },
      { urlContains: 'shop', testType: 'api' },
      { urlContains: 'a_b3' },
      { urlContains: 'nowhere' },
      // `?owner=` one's own email: one's own tests of the workspace.
      { urlContains: 'example', ownerEmail: 'search-alice@example.test' },
    ];
    for (const search of searches) {
      const expected = made
        .filter(
          (t) =>
            t.ws === aliceWs &&
            t.url.toLowerCase().includes(search.urlContains.toLowerCase()) &&
            (!search.status || t.status === search.status) &&
            (!search.testType || t.type === search.testType) &&
            (!search.ownerEmail || t.user === alice.id),
        )
        .map((t) => t.id)
        .sort((a, b) => Number(b) - Number(a));
      const found: string[] = [];
      let afterId: string | undefined;
      for (let page = 0; page < 20; page++) {
        const { rows, nextAfterId } = await repo.list(viewer, {
          ...search,
          limit: 3,
          ...(afterId ? { afterId } : {}),
        });
        found.push(...rows.map((r) => r.id));
        expect(rows.every((r) => r.workspace_id === aliceWs)).toBe(true);
        if (!nextAfterId) break;
        afterId = nextAfterId;
      }
      expect(found, JSON.stringify(search)).toEqual(expected);
    }
    // Long URLs are among what was found (the `_` of a_b3 is a literal, not a wildcard).
    expect(made.some((t) => t.ws === aliceWs && t.url.length > 2000)).toBe(true);

    // The plan of a search: URLs from the search index alone, whatever the table's size.
    const search = queries.find((q) => q.sql.includes('ilike'))!;
    // Alice's tests among many of others', and visible to every transaction (as autovacuum leaves
    // a history), as on a real server: then an index-only scan is what it costs least.
    await sql`INSERT INTO test_queue (test_id, test_type, url, status, user_id, workspace_id)
      SELECT gen_random_uuid(), 'api', 'https://other.example.test/' || g, 'completed', ${bob.id}, ${bobWs}
      FROM generate_series(1, 5000) g`.execute(k);
    await sql`VACUUM ANALYZE test_queue`.execute(k);
    const client = await database.db.pool.connect();
    try {
      const plan = (
        await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${search.sql}`, search.parameters as unknown[])
      ).rows
        .map((r) => r['QUERY PLAN'])
        .join('\n');
      expect(plan).toMatch(/Index Only Scan using test_queue_workspace_search_idx/);
    } finally {
      client.release();
    }
  });
});
