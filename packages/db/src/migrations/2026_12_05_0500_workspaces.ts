import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Frozen once landed: later changes go into new migrations.
// Workspaces own tests (and API keys, and the invitations into them); members hold a role in one.
// Every user gets a personal workspace, which takes over their tests and keys.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('workspaces')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('name', 'text', (c) => c.notNull())
    // The user whose personal workspace this is (one each); null for a team's. A deleted user's
    // personal workspace stays with its tests, as their tests stayed before workspaces.
    .addColumn('personal_of', 'uuid', (c) => c.unique().references('users.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`
    CREATE TRIGGER workspaces_updated_at BEFORE UPDATE ON workspaces
    FOR EACH ROW EXECUTE FUNCTION crucible_set_updated_at()`.execute(db);

  await db.schema
    .createTable('workspace_members')
    .addColumn('workspace_id', 'uuid', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role IN ('owner', 'admin', 'member', 'viewer')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('workspace_members_pkey', ['workspace_id', 'user_id'])
    .execute();
  // "My workspaces" and every request's membership check go by user.
  await db.schema
    .createIndex('workspace_members_user_idx')
    .on('workspace_members')
    .column('user_id')
    .execute();

  // A workspace's invitation names the workspace and the role it grants; an admin's (#17) neither.
  await db.schema
    .alterTable('invitations')
    .addColumn('workspace_id', 'uuid', (c) => c.references('workspaces.id').onDelete('cascade'))
    .addColumn('workspace_role', 'text', (c) =>
      c.check(sql`workspace_role IN ('owner', 'admin', 'member', 'viewer')`),
    )
    .execute();
  await sql`ALTER TABLE invitations ADD CONSTRAINT invitations_workspace_pair_check
    CHECK ((workspace_id IS NULL) = (workspace_role IS NULL))`.execute(db);

  await db.schema
    .alterTable('test_queue')
    .addColumn('workspace_id', 'uuid', (c) => c.references('workspaces.id').onDelete('cascade'))
    .execute();
  await db.schema
    .createIndex('test_queue_workspace_created_idx')
    .on('test_queue')
    .columns(['workspace_id', 'created_at desc'])
    .execute();

  await db.schema
    .alterTable('api_keys')
    .addColumn('workspace_id', 'uuid', (c) => c.references('workspaces.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.check(sql`role IN ('owner', 'admin', 'member', 'viewer')`))
    .execute();

  // Existing data: one personal workspace per user, owned by them; their tests and keys move in.
  // A key keeps what it could do (all its user could: owner of the personal workspace).
  await sql`
    INSERT INTO workspaces (name, personal_of) SELECT 'Personal', id FROM users`.execute(db);
  await sql`
    INSERT INTO workspace_members (workspace_id, user_id, role)
    SELECT id, personal_of, 'owner' FROM workspaces WHERE personal_of IS NOT NULL`.execute(db);
  await sql`
    UPDATE test_queue t SET workspace_id = w.id FROM workspaces w WHERE w.personal_of = t.user_id`.execute(
    db,
  );
  await sql`
    UPDATE api_keys k SET workspace_id = w.id, role = 'owner'
    FROM workspaces w WHERE w.personal_of = k.user_id`.execute(db);
  await sql`ALTER TABLE api_keys ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN role SET NOT NULL`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('api_keys').dropColumn('workspace_id').dropColumn('role').execute();
  await db.schema.dropIndex('test_queue_workspace_created_idx').execute();
  await db.schema.alterTable('test_queue').dropColumn('workspace_id').execute();
  await sql`ALTER TABLE invitations DROP CONSTRAINT invitations_workspace_pair_check`.execute(db);
  await db.schema.alterTable('invitations').dropColumn('workspace_id').dropColumn('workspace_role').execute();
  await db.schema.dropTable('workspace_members').execute();
  await db.schema.dropTable('workspaces').execute();
}
