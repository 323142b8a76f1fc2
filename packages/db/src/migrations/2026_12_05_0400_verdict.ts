import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Frozen once landed: later changes go into new migrations.
// A completed test's verdict (passed / failed / none), stored so lists show it without the result.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('test_queue')
    .addColumn('verdict', 'text', (c) => c.check(sql`verdict IN ('passed', 'failed', 'none')`))
    .execute();
  // Tests completed before this column judged by the catalogue's rule (catalog.ts, `verdict`):
  // api by its steps and assertions, stress by its thresholds, the other types judge nothing.
  await sql`
    UPDATE test_queue SET verdict = CASE
      WHEN test_type = 'api' AND (result->>'passed') = 'false' THEN 'failed'
      WHEN test_type = 'api' AND coalesce((result->'totals'->>'assertions')::int, 0) > 0 THEN 'passed'
      WHEN test_type = 'stress' AND jsonb_typeof(result->'thresholds') = 'array'
           AND jsonb_array_length(result->'thresholds') > 0
        THEN CASE WHEN (result->>'passed') = 'true' THEN 'passed' ELSE 'failed' END
      ELSE 'none'
    END
    WHERE status = 'completed'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('test_queue').dropColumn('verdict').execute();
}
