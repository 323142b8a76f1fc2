import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Frozen once landed: later changes go into new migrations.
// The test queue: a fencing token per attempt, manual re-runs with their history, idempotency keys.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('test_queue')
    // Number of attempts started so far; each status write of a worker is fenced by it.
    .addColumn('attempt', 'integer', (c) => c.notNull().defaultTo(0))
    // Manual re-runs (POST …/retry); the BullMQ job id of run n > 0 is `{testId}-r{n}`.
    .addColumn('run', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();

  await db.schema
    .createTable('test_attempts')
    .addColumn('test_id', 'uuid', (c) => c.notNull().references('test_queue.test_id').onDelete('cascade'))
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('run', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .check(
          sql`status IN ('running', 'completed', 'failed', 'retrying', 'cancelled', 'lost', 'handed_back')`,
        ),
    )
    .addColumn('error_message', 'text')
    .addColumn('started_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('finished_at', 'timestamptz')
    .addPrimaryKeyConstraint('test_attempts_pkey', ['test_id', 'attempt'])
    .execute();

  await db.schema
    .createTable('idempotency_keys')
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('test_id', 'uuid', (c) => c.notNull().references('test_queue.test_id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('idempotency_keys_pkey', ['user_id', 'key'])
    .execute();
  await db.schema
    .createIndex('idempotency_keys_test_id_idx')
    .on('idempotency_keys')
    .column('test_id')
    .execute();

  // Lists page newest first by id, per user (admins: over everything, by the primary key).
  await db.schema
    .createIndex('test_queue_user_id_desc_idx')
    .on('test_queue')
    .columns(['user_id', 'id desc'])
    .execute();
  // Recent durations per type (ETA) and the reconciler's scan of unsettled rows.
  await sql`CREATE INDEX test_queue_completed_type_idx ON test_queue (test_type, completed_at DESC) WHERE status = 'completed'`.execute(
    db,
  );
  await sql`CREATE INDEX test_queue_unsettled_idx ON test_queue (updated_at) WHERE status IN ('queued', 'running')`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('test_queue_unsettled_idx').execute();
  await db.schema.dropIndex('test_queue_completed_type_idx').execute();
  await db.schema.dropIndex('test_queue_user_id_desc_idx').execute();
  await db.schema.dropTable('idempotency_keys').execute();
  await db.schema.dropTable('test_attempts').execute();
  await db.schema.alterTable('test_queue').dropColumn('run').dropColumn('attempt').execute();
}
