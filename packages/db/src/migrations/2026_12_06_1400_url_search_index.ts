import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Frozen once landed: later changes go into new migrations.
// A workspace's URL search reads URLs from an index instead of fetching each of its tests from the
// table (issue 27, `pnpm bench growth`: 22 ms against 5 on an empty database). The entry carries
// what the list's filters ask (status, type, URL), so a search is an index-only scan that stops
// at a page of matches. A B-tree entry must fit a third of a page, so URLs over 2,000 bytes
// (`SEARCH_INDEX_URL_BYTES`) are left out of it and found through the second, in practice empty,
// index.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE INDEX test_queue_workspace_search_idx ON test_queue (workspace_id, id DESC)
    INCLUDE (status, test_type, url) WHERE octet_length(url) <= 2000`.execute(db);
  await sql`CREATE INDEX test_queue_workspace_long_url_idx ON test_queue (workspace_id, id DESC)
    WHERE octet_length(url) > 2000`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX test_queue_workspace_long_url_idx`.execute(db);
  await sql`DROP INDEX test_queue_workspace_search_idx`.execute(db);
}
