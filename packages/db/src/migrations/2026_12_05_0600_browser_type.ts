import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Frozen once landed: later changes go into new migrations.
// The browser test type (issue 25): a real Chromium audited by Lighthouse.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE test_queue DROP CONSTRAINT test_queue_test_type_check`.execute(db);
  await sql`ALTER TABLE test_queue ADD CONSTRAINT test_queue_test_type_check
    CHECK (test_type IN ('performance', 'stress', 'api', 'seo', 'security', 'browser'))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DELETE FROM test_queue WHERE test_type = 'browser'`.execute(db);
  await sql`ALTER TABLE test_queue DROP CONSTRAINT test_queue_test_type_check`.execute(db);
  await sql`ALTER TABLE test_queue ADD CONSTRAINT test_queue_test_type_check
    CHECK (test_type IN ('performance', 'stress', 'api', 'seo', 'security'))`.execute(db);
}
