import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Frozen once landed: later changes go into new migrations.
// Workspace quotas (issue 20): an instance admin's overrides of the deployment's defaults, the
// stress connection-seconds each workspace was granted per day, and an index that counts a
// workspace's queued and running tests without reading its finished ones.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('workspace_quotas')
    .addColumn('workspace_id', 'uuid', (c) => c.primaryKey().references('workspaces.id').onDelete('cascade'))
    // Null: the deployment's default; 0: no limit.
    .addColumn('max_queued', 'integer', (c) => c.check(sql`max_queued >= 0`))
    .addColumn('max_running', 'integer', (c) => c.check(sql`max_running >= 0`))
    .addColumn('stress_budget', 'bigint', (c) => c.check(sql`stress_budget >= 0`))
    .addColumn('submit_rate', 'integer', (c) => c.check(sql`submit_rate >= 0`))
    .addColumn('max_stress_connections', 'integer', (c) => c.check(sql`max_stress_connections >= 0`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createTable('workspace_stress_usage')
    .addColumn('workspace_id', 'uuid', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('day', 'date', (c) => c.notNull())
    .addColumn('connection_seconds', 'bigint', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('workspace_stress_usage_pkey', ['workspace_id', 'day'])
    .execute();
  await db.schema
    .createIndex('test_queue_workspace_active_idx')
    .on('test_queue')
    .columns(['workspace_id', 'status'])
    .where(sql.ref('status'), 'in', sql`('queued', 'running')`)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('test_queue_workspace_active_idx').execute();
  await db.schema.dropTable('workspace_stress_usage').execute();
  await db.schema.dropTable('workspace_quotas').execute();
}
