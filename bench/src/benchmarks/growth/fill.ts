import pg from 'pg';

/** How much history a filled database holds (`GROWTH_*` variables, or the benchmark's defaults). */
export interface FillSizes {
  /** Users besides the measured one. */
  users: number;
  /** Finished tests of all users (the measured user's among them). */
  finished: number;
  /** Of those, the measured user's. */
  heavy: number;
  /** Queued tests of the other users, waiting for their turn. */
  queued: number;
}

/** The measured user's sites: its URL search looks for one of them. */
export const HEAVY_SITES = 50;
/** What the URL search asks for: one site of the measured user's fifty (about 2 % of its tests). */
export const SEARCHED = 'shop-7.example';

/**
 * Fills a migrated database with a year of history in a few statements (INSERT … SELECT over
 * generate_series, not the API): `users` users with personal workspaces, `finished` completed or
 * failed tests with their result and their one attempt, interleaved in time so that every user's
 * tests are spread over the whole table as they would be, `heavy` of them the measured user's
 * (whose id and workspace are given: made through the API like any user), and `queued` tests of
 * the other users waiting for their turn. Statistics are taken at the end, as autovacuum would.
 */
export async function fillHistory(
  databaseUrl: string,
  measured: { userId: string },
  sizes: FillSizes,
): Promise<void> {
  for (const [name, n] of Object.entries(sizes)) {
    if (!Number.isInteger(n) || n < (name === 'queued' ? 0 : 1)) {
      throw new Error(`fill: ${name} must be a positive integer, not ${n}`);
    }
  }
  const { users, finished, heavy, queued } = sizes;
  if (heavy > finished) throw new Error('fill: the measured user cannot have more tests than there are');
  // Every `every`-th finished test is the measured user's (its first `heavy` such).
  const every = Math.floor(finished / heavy);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('SET synchronous_commit = off');
    await client.query("SET maintenance_work_mem = '256MB'");
    await client.query('BEGIN');
    // Indexes built once at the end from sorted data, not row by row: the same definitions the
    // migrations made (constraints' indexes stay, they are needed while filling).
    const { rows: indexes } = await client.query<{ indexname: string; indexdef: string }>(
      `SELECT indexname, indexdef FROM pg_indexes
       WHERE schemaname = current_schema() AND tablename = 'test_queue'
         AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'test_queue'::regclass)`,
    );
    for (const { indexname } of indexes) await client.query(`DROP INDEX ${indexname}`);
    await client.query(
      `INSERT INTO users (email, password_hash)
       SELECT 'growth-fill-' || g || '@example.com', 'not-a-password-hash' FROM generate_series(1, ${users}) g`,
    );
    await client.query(
      `INSERT INTO workspaces (name, personal_of)
       SELECT 'Personal', id FROM users WHERE email LIKE 'growth-fill-%'`,
    );
    await client.query(
      `INSERT INTO workspace_members (workspace_id, user_id, role)
       SELECT id, personal_of, 'owner' FROM workspaces w
       WHERE personal_of IN (SELECT id FROM users WHERE email LIKE 'growth-fill-%')`,
    );
    // Owner n (0-based) of the fill; the measured user is owner -1.
    await client.query(
      `CREATE TEMP TABLE growth_owners ON COMMIT DROP AS
       SELECT (row_number() OVER (ORDER BY u.id) - 1)::int AS n, u.id AS user_id, w.id AS workspace_id
       FROM users u JOIN workspaces w ON w.personal_of = u.id WHERE u.email LIKE 'growth-fill-%'
       UNION ALL
       SELECT -1, u.id, w.id FROM users u JOIN workspaces w ON w.personal_of = u.id WHERE u.id = $1`,
      [measured.userId],
    );
    await client.query('CREATE UNIQUE INDEX ON growth_owners (n)');
    // Test g of `finished`, oldest first: every (finished / heavy)-th is the measured user's, the
    // rest go round the other users; one a year ago, the last a minute ago.
    await client.query(
      `INSERT INTO test_queue (test_id, test_type, url, config, status, priority, progress, user_id, workspace_id,
         result, error_message, created_at, dispatched_at, started_at, completed_at, updated_at, attempt, verdict)
       SELECT gen_random_uuid(), t.test_type,
         CASE WHEN o.n = -1 THEN 'https://shop-' || ((s.g / ${every}) % ${HEAVY_SITES}) || '.example.com/p/' || (s.g % 97)
              ELSE 'https://site-' || o.n || '-' || (s.g % 20) || '.example.net/p/' || (s.g % 97) END,
         '{"iterations":1}'::jsonb,
         CASE WHEN s.failed THEN 'failed' ELSE 'completed' END,
         5, 100, o.user_id, o.workspace_id,
         CASE WHEN s.failed THEN NULL ELSE jsonb_build_object(
           'metrics', jsonb_build_object(
             'ttfb', jsonb_build_object('value', 40 + s.g % 60, 'unit', 'ms'),
             'total', jsonb_build_object('value', 120 + s.g % 300, 'unit', 'ms'),
             'status', jsonb_build_object('value', 200, 'unit', 'code')),
           'summary', 'HTTP 200 in ' || (120 + s.g % 300) || ' ms') END,
         CASE WHEN s.failed THEN 'connect ECONNREFUSED' END,
         s.at, s.at, s.at + interval '50 ms', s.at + interval '2 s', s.at + interval '2 s', 1,
         CASE WHEN s.failed THEN 'failed' ELSE 'passed' END
       FROM (
         SELECT g, random() < 0.05 AS failed, now() - interval '365 days' * (1 - g::float8 / ${finished}) - interval '1 minute' AS at,
           CASE WHEN g % ${every} = 0 AND g / ${every} <= ${heavy} THEN -1 ELSE (g::int8 * 7919) % ${users} END AS owner
         FROM generate_series(1, ${finished}) g
       ) s
       JOIN growth_owners o ON o.n = s.owner
       CROSS JOIN LATERAL (SELECT (ARRAY['performance','performance','performance','api','seo','security'])[1 + s.g % 6]
         AS test_type) t
       ORDER BY s.g`,
    );
    await client.query(
      `INSERT INTO test_attempts (test_id, attempt, run, status, error_message, started_at, finished_at)
       SELECT test_id, 1, run, status, error_message, started_at, completed_at FROM test_queue
       WHERE status IN ('completed', 'failed')`,
    );
    // Waiting for their turn (the fair dispatcher releases them as slots free up), the oldest an
    // hour old, spread over the other users.
    if (queued > 0)
      await client.query(
        `INSERT INTO test_queue (test_id, test_type, url, config, status, priority, user_id, workspace_id,
         created_at, updated_at)
       SELECT gen_random_uuid(), 'performance', 'https://site-' || o.n || '-' || (g % 20) || '.example.net/q',
         '{"iterations":1}'::jsonb, 'queued', 5, o.user_id, o.workspace_id,
         now() - interval '1 hour' * (1 - g::float8 / ${queued}), now() - interval '1 hour' * (1 - g::float8 / ${queued})
       FROM generate_series(1, ${queued}) g JOIN growth_owners o ON o.n = (g::int8 * 31) % ${users}
       ORDER BY g`,
      );
    for (const { indexdef } of indexes) await client.query(indexdef);
    await client.query('COMMIT');
    await client.query('VACUUM ANALYZE test_queue');
    await client.query('VACUUM ANALYZE test_attempts');
    await client.query('ANALYZE');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await client.end();
  }
}
