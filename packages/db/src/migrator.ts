import { Migrator } from 'kysely';
import type { Kysely, Migration, MigrationProvider, MigrationResultSet } from 'kysely';
import * as initial from './migrations/2026_11_29_0001_initial.js';
import * as queueRuns from './migrations/2026_11_29_0100_queue_runs.js';
import * as invitations from './migrations/2026_12_05_0100_invitations.js';
import * as sessions from './migrations/2026_12_05_0200_sessions.js';
import * as verdict from './migrations/2026_12_05_0400_verdict.js';
import * as rerunOf from './migrations/2026_12_05_0400_x_rerun_of.js';
import * as judging from './migrations/2026_12_05_0500_h21_judging.js';
import * as workspaces from './migrations/2026_12_05_0500_workspaces.js';
import * as browserType from './migrations/2026_12_05_0600_browser_type.js';
import * as browserArtifacts from './migrations/2026_12_05_0700_browser_artifacts.js';
import * as sharesAudit from './migrations/2026_12_05_0810_sharing_shares_audit.js';
import * as fairshareDispatch from './migrations/2026_12_05_0820_fairshare_dispatch.js';
import * as notifyChannels from './migrations/2026_12_05_0840_notify_channels.js';
import * as monitors from './migrations/2026_12_05_0830_monitors.js';
import * as workspaceQuotas from './migrations/2026_12_05_0850_quotas_workspace_quotas.js';
import * as queuedCounts from './migrations/2026_12_05_0920_quotas_queued_counts.js';
import * as platformMaintenance from './migrations/2026_12_05_0930_platform_maintenance.js';
import * as alertsRulesIncidents from './migrations/2026_12_05_0940_alerts_rules_incidents.js';
import * as alertsMonitorGone from './migrations/2026_12_05_0950_alerts_monitor_gone.js';
import * as notificationPreferences from './migrations/2026_12_05_0960_notification_preferences.js';
import * as growthIndexes from './migrations/2026_12_06_0501_growth_indexes.js';
import * as deliveryOrder from './migrations/2026_12_06_0537_notification_delivery_order.js';
import * as systemAlerts from './migrations/2026_12_06_0606_system_alerts.js';
import * as urlSearchIndex from './migrations/2026_12_06_1400_url_search_index.js';

/** Migrations in code (not read from disk) so compiled builds and tsx run the same list. */
const migrations: Record<string, Migration> = {
  '2026_11_29_0001_initial': initial,
  '2026_11_29_0100_queue_runs': queueRuns,
  '2026_12_05_0100_invitations': invitations,
  '2026_12_05_0200_sessions': sessions,
  '2026_12_05_0400_verdict': verdict,
  '2026_12_05_0400_x_rerun_of': rerunOf,
  '2026_12_05_0500_h21_judging': judging,
  '2026_12_05_0500_workspaces': workspaces,
  '2026_12_05_0600_browser_type': browserType,
  '2026_12_05_0700_browser_artifacts': browserArtifacts,
  '2026_12_05_0810_sharing_shares_audit': sharesAudit,
  '2026_12_05_0820_fairshare_dispatch': fairshareDispatch,
  '2026_12_05_0840_notify_channels': notifyChannels,
  '2026_12_05_0830_monitors': monitors,
  '2026_12_05_0850_quotas_workspace_quotas': workspaceQuotas,
  '2026_12_05_0920_quotas_queued_counts': queuedCounts,
  '2026_12_05_0930_platform_maintenance': platformMaintenance,
  '2026_12_05_0940_alerts_rules_incidents': alertsRulesIncidents,
  '2026_12_05_0950_alerts_monitor_gone': alertsMonitorGone,
  '2026_12_05_0960_notification_preferences': notificationPreferences,
  '2026_12_06_0501_growth_indexes': growthIndexes,
  '2026_12_06_0537_notification_delivery_order': deliveryOrder,
  '2026_12_06_0606_system_alerts': systemAlerts,
  '2026_12_06_1400_url_search_index': urlSearchIndex,
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

/** Brings the database up to the migration `name`, and no further: how a test makes yesterday's schema. */
export async function migrateUpTo(db: Kysely<any>, name: string): Promise<void> {
  if (!(name in migrations)) throw new Error(`unknown migration ${name}`);
  const migrator = new Migrator({ db, provider: new StaticProvider(), allowUnorderedMigrations: true });
  const result = await migrator.migrateTo(name);
  if (result.error) throw new Error('database migration failed', { cause: result.error });
}

/** True when every known migration has been applied (readiness). */
export async function migrationsApplied(db: Kysely<any>): Promise<boolean> {
  const migrator = new Migrator({ db, provider: new StaticProvider() });
  const list = await migrator.getMigrations();
  return list.every((m) => m.executedAt !== undefined);
}
