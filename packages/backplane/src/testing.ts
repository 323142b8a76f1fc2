import { createHash, randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Redis } from 'ioredis';
import { createDb, migrateToLatest } from '@crucible/db';
import { createTestDatabase } from '@crucible/db/testing';
import { BULLMQ_SCHEMA, createEmbeddedBackplane, createRedisBackplane } from './backplane.js';
import type { Backplane } from './backplane.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import type { EmbeddedPostgres } from './embedded-postgres.js';

// Test support: the one place a test's deployment is made, in either mode, so that the same suite
// runs against Redis + PostgreSQL and against the embedded backplane of `pnpm start`.

export type BackplaneMode = Backplane['mode'];

/** Every mode, for `describe.each`. */
export const BACKPLANE_MODES: readonly BackplaneMode[] = ['distributed', 'embedded'];

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * The mode a suite runs in, from `CRUCIBLE_TEST_BACKPLANE` (set by the vitest project that runs it).
 * @defaultValue distributed
 */
export function testBackplaneMode(): BackplaneMode {
  const mode = process.env.CRUCIBLE_TEST_BACKPLANE || 'distributed';
  if (mode !== 'distributed' && mode !== 'embedded') {
    throw new Error(`CRUCIBLE_TEST_BACKPLANE must be distributed or embedded, not ${mode}`);
  }
  return mode;
}

/** Deletes every key of a test's prefix (SCAN + UNLINK, never KEYS). */
export async function deleteRedisPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

const require = createRequire(import.meta.url);

function packageVersion(name: string): string {
  for (let dir = dirname(require.resolve(name)); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version: string };
    if (pkg.name === name) return pkg.version;
  }
  throw new Error(`no package.json of ${name}`);
}

/** Our migrations' file names and contents, so that a changed migration makes a new template. */
function migrationsDigest(): string {
  const dir = join(dirname(require.resolve('@crucible/db')), 'migrations');
  const hash = createHash('sha256');
  for (const name of readdirSync(dir).sort()) hash.update(name).update(readFileSync(join(dir, name)));
  return hash.digest('hex').slice(0, 16);
}

/**
 * A data folder, made once per machine and key and kept in the temporary directory for later runs
 * (test processes are often killed rather than exited, so nothing per process is left to clean).
 */
async function cachedDataDir(key: string, build: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(tmpdir(), `crucible-test-pglite-${key}`);
  if (existsSync(join(dir, 'pgdata'))) return dir;
  const building = mkdtempSync(`${dir}.building-`);
  try {
    await build(building);
    renameSync(building, dir);
  } catch (err) {
    rmSync(building, { recursive: true, force: true });
    // Another test process finished first: its folder is as good.
    if (existsSync(join(dir, 'pgdata'))) return dir;
    throw err;
  }
  return dir;
}

/**
 * A data folder PGlite has initialised, with every migration of ours and BullMQ's applied. initdb
 * is most of the cost of a fresh PGlite (seconds; tens of them on a busy machine) and depends
 * only on the PGlite version, so it is cached on its own; the migrations are cached on top of it.
 */
async function migratedTemplate(): Promise<string> {
  const pglite = packageVersion('@electric-sql/pglite');
  const initialised = await cachedDataDir(pglite, async (dir) => {
    await (await startEmbeddedPostgres({ dataDir: dir })).close();
  });
  const key = `${pglite}-bullmq-${packageVersion('bullmq')}-${migrationsDigest()}`;
  return cachedDataDir(key, async (dir) => {
    cpSync(initialised, dir, { recursive: true });
    const pg = await startEmbeddedPostgres({ dataDir: dir, searchPath: ['public', BULLMQ_SCHEMA] });
    try {
      const db = createDb(pg.url, { max: 2 });
      try {
        await migrateToLatest(db.kysely);
      } finally {
        await db.close();
      }
      await (await createEmbeddedBackplane({ databaseUrl: pg.url })).close();
    } finally {
      await pg.close();
    }
  });
}

export interface TestEmbeddedPostgres extends EmbeddedPostgres {
  dataDir: string;
}

/**
 * A fresh embedded PostgreSQL as `pnpm start` runs it (PGlite served on a loopback port, with
 * BullMQ's schema on the search path), already migrated: a copy of a template folder, so a test
 * pays for opening PGlite and not for initdb. `close()` also deletes its folder.
 */
export async function startTestEmbeddedPostgres(): Promise<TestEmbeddedPostgres> {
  const template = await migratedTemplate();
  const dataDir = mkdtempSync(join(tmpdir(), 'crucible-test-pgdata-'));
  cpSync(template, dataDir, { recursive: true });
  let pg: EmbeddedPostgres;
  try {
    pg = await startEmbeddedPostgres({ dataDir, searchPath: ['public', BULLMQ_SCHEMA] });
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: pg.url,
    dataDir,
    async close() {
      await pg.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The services of one deployment under test, in one mode. */
export interface TestDeployment {
  readonly mode: BackplaneMode;
  /**
   * Its PostgreSQL: a fresh database on the machine's server (distributed) or a fresh embedded
   * PGlite (embedded, already migrated). Callers still run `migrateToLatest`, as the apps do.
   */
  readonly databaseUrl: string;
  /** Its Redis key prefix; empty in embedded mode, which has no Redis. */
  readonly prefix: string;
  /**
   * The backplane of a process of the deployment. Distributed: a new one on the prefix with
   * connections of its own, as another process would have. Embedded: always the same one, since
   * the whole deployment is one process. The deployment closes them.
   */
  backplane(): Promise<Backplane>;
  /**
   * Loses every job of the queue while PostgreSQL keeps its rows. Distributed: every key of the
   * prefix is deleted (a Redis flush, or a Redis restarted empty). Embedded: the queue is
   * obliterated (what a crash between committing a test and enqueueing its job leaves behind).
   */
  loseQueue(): Promise<void>;
  close(): Promise<void>;
}

export interface TestDeploymentOptions {
  /** @defaultValue testBackplaneMode() */
  mode?: BackplaneMode;
  /**
   * Join an existing distributed deployment (another process of it): its database and prefix are
   * used, and left in place on close.
   */
  join?: { databaseUrl: string; prefix: string };
}

export async function createTestDeployment(options: TestDeploymentOptions = {}): Promise<TestDeployment> {
  const mode = options.mode ?? testBackplaneMode();
  if (mode === 'embedded') {
    if (options.join) throw new Error('embedded mode is one process: there is no other process to join');
    const pg = await startTestEmbeddedPostgres();
    let backplane: Promise<Backplane> | undefined;
    const only = () => (backplane ??= createEmbeddedBackplane({ databaseUrl: pg.url }));
    return {
      mode,
      databaseUrl: pg.url,
      prefix: '',
      backplane: only,
      async loseQueue() {
        for (const queue of (await only()).queue.all) {
          await queue.obliterate({ force: true });
          // Obliterating pauses the queue first; a lost Redis forgets that flag with the rest.
          await queue.resume();
        }
      },
      async close() {
        await (await backplane?.catch(() => undefined))?.close();
        await pg.close();
      },
    };
  }

  const database = options.join ? undefined : await createTestDatabase();
  const databaseUrl = options.join?.databaseUrl ?? database!.url;
  const prefix = options.join?.prefix ?? `t-${randomUUID()}`;
  const backplanes: Backplane[] = [];
  const deleteKeys = async () => {
    const redis = new Redis(TEST_REDIS_URL);
    try {
      await deleteRedisPrefix(redis, prefix);
    } finally {
      redis.disconnect();
    }
  };
  return {
    mode,
    databaseUrl,
    prefix,
    async backplane() {
      const backplane = createRedisBackplane({ url: TEST_REDIS_URL, prefix });
      backplanes.push(backplane);
      await backplane.waitUntilReady();
      return backplane;
    },
    loseQueue: deleteKeys,
    async close() {
      for (const b of backplanes.splice(0)) await b.close();
      // The first process of a deployment owns its database and keys.
      if (!database) return;
      await deleteKeys();
      await database.drop();
    },
  };
}
