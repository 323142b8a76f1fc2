import { ExitCodes, createLogger, loadConfigOrExit } from '@crucible/runtime';
import { createDb, migrateToLatest } from '@crucible/db';
import { loadMigrateEnv } from './env.js';

/**
 * One-shot migration job (compose `migrate`, Kubernetes Job `crucible-migrate`): applies every
 * pending migration and exits 0, or exits 1. The apps then run with MIGRATE_ON_START=false, so
 * replicas never race each other for the schema, and report ready once it is applied.
 */
const env = loadConfigOrExit(() => loadMigrateEnv());
const logger = await createLogger({ name: 'migrate', level: env.logLevel, format: env.logFormat });

const db = createDb(env.databaseUrl);
try {
  const { results } = await migrateToLatest(db.kysely);
  for (const r of results ?? []) logger.info({ migration: r.migrationName, status: r.status }, 'migration');
  logger.info({ applied: results?.length ?? 0 }, 'database is at the latest migration');
  await db.close();
  process.exit(ExitCodes.OK);
} catch (err) {
  logger.error({ err }, 'migration failed');
  await db.close().catch(() => {});
  process.exit(ExitCodes.FAILURE);
}
