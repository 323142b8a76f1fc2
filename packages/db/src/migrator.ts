import { Migrator } from 'kysely';
import type { Kysely, Migration, MigrationProvider, MigrationResultSet } from 'kysely';
import * as initial from './migrations/2026_11_29_0001_initial.js';
import * as queueRuns from './migrations/2026_11_29_0100_queue_runs.js';
import * as invitations from './migrations/2026_12_05_0100_invitations.js';
import * as sessions from './migrations/2026_12_05_0200_sessions.js';
import * as verdict from './migrations/2026_12_05_0400_verdict.js';
import * as rerunOf from './migrations/2026_12_05_0400_x_rerun_of.js';

/** Migrations in code (not read from disk) so compiled builds and tsx run the same list. */
const migrations: Record<string, Migration> = {
  '2026_11_29_0001_initial': initial,
  '2026_11_29_0100_queue_runs': queueRuns,
  '2026_12_05_0100_invitations': invitations,
  '2026_12_05_0200_sessions': sessions,
  '2026_12_05_0400_verdict': verdict,
  '2026_12_05_0400_x_rerun_of': rerunOf,
};

class StaticProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations;
  }
}

export const LATEST_MIGRATION = Object.keys(migrations).sort().at(-1)!;

/**
 * Brings the database to the latest migration. Kysely's migrator takes a PostgreSQL advisory
 * lock for the run, so several processes starting at once apply each migration exactly once.
 */
export async function migrateToLatest(db: Kysely<any>): Promise<MigrationResultSet> {
  // Work lands from parallel branches, so a migration may arrive named before one a database has
  // already run; each is independent of the others of its day, so apply it rather than refuse.
  const migrator = new Migrator({ db, provider: new StaticProvider(), allowUnorderedMigrations: true });
  const result = await migrator.migrateToLatest();
  if (result.error) {
    throw new Error('database migration failed', { cause: result.error });
  }
  return result;
}

/** True when every known migration has been applied (readiness). */
export async function migrationsApplied(db: Kysely<any>): Promise<boolean> {
  const migrator = new Migrator({ db, provider: new StaticProvider() });
  const list = await migrator.getMigrations();
  return list.every((m) => m.executedAt !== undefined);
}
