import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createTokenService } from '@crucible/shared';
import { cachePrefix } from '@crucible/shared/cache';
import { createRedisBackplane } from '@crucible/backplane';
import { createDb, migrateToLatest } from '@crucible/db';
import { createTestDatabase } from '@crucible/db/testing';
import { parseAllowlist } from '@crucible/shared/egress';
import { buildApi } from '../src/app.js';
import type { BuildApiOptions } from '../src/app.js';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const SECRET = 'test-secret-test-secret-test-secret-0123';

/** Deletes every key of a test's prefix (SCAN + UNLINK, never KEYS). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/**
 * A fresh API on its own database and Redis prefix. Pass `shared` to start another api process
 * of the same deployment (same database and prefix, connections of its own).
 */
export async function startApi(
  options: BuildApiOptions = {},
  shared?: { databaseUrl: string; prefix: string },
) {
  const database = shared ? null : await createTestDatabase();
  const db = createDb(shared?.databaseUrl ?? database!.url);
  await migrateToLatest(db.kysely);
  const prefix = shared?.prefix ?? `t-${randomUUID()}`;
  const redis = new Redis(REDIS_URL);
  const backplane = createRedisBackplane({ url: REDIS_URL, prefix });
  await backplane.waitUntilReady();
  const { queue, eventLog } = backplane;
  const tokens = createTokenService(SECRET);
  const cache = await backplane.createCache({ prefix: cachePrefix(prefix) });
  // Loopback is opened as in a local deployment; submissions never connect anywhere.
  const app = await buildApi(
    { db, backplane, tokens, targetAllowlist: parseAllowlist('127.0.0.1'), cache },
    options,
  );
  await app.ready();
  return {
    app,
    db,
    queue,
    eventLog,
    tokens,
    prefix,
    redis,
    cache,
    tickets: backplane.tickets,
    databaseUrl: shared?.databaseUrl ?? database!.url,
    async close() {
      await app.close();
      await cache.close();
      await backplane.close();
      // The first process of a deployment owns its database and keys.
      if (database) await deletePrefix(redis, prefix);
      redis.disconnect();
      await db.close();
      await database?.drop();
    },
  };
}
