import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createTokenService } from '@crucible/shared';
import { cachePrefix } from '@crucible/shared/cache';
import { createRedisBackplane } from '@crucible/backplane';
import type { Backplane } from '@crucible/backplane';
import { createDb, migrateToLatest } from '@crucible/db';
import { createTestDatabase } from '@crucible/db/testing';
import { Egress, parseAllowlist } from '@crucible/shared/egress';
import { createEngines, createTestWorker } from '@crucible/worker';
import type { TestWorker, TestWorkerDeps } from '@crucible/worker';
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
 * The one place a test's queue backend is made: a Redis backplane on the test's own prefix
 * (each call: connections of its own, like another process of the same deployment).
 */
export async function createTestBackplane(prefix: string): Promise<Backplane> {
  const backplane = createRedisBackplane({ url: REDIS_URL, prefix });
  await backplane.waitUntilReady();
  return backplane;
}

export type WorkerOptions = Partial<Omit<TestWorkerDeps, 'db' | 'backplane'>>;

/** The engines of a local deployment: targets are servers the test starts on 127.0.0.1. */
export const localEngines = () => createEngines(new Egress({ allowlist: parseAllowlist('127.0.0.1') }));

/**
 * A fresh API on its own database and Redis prefix, with in-process workers on demand. Pass `shared` to start another api process
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
  const backplane = await createTestBackplane(prefix);
  const { queue, eventLog } = backplane;
  const workers: { worker: TestWorker; backplane: Backplane }[] = [];
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
    backplane,
    /** Deletes every key of the prefix: what a Redis flush or an empty restart does to this deployment. */
    flush: () => deletePrefix(redis, prefix),
    /** A worker in this process on the API's database and prefix; closed with the API. */
    async startWorker(workerOptions: WorkerOptions = {}): Promise<TestWorker> {
      const own = await createTestBackplane(prefix);
      const worker = createTestWorker({
        db,
        backplane: own,
        logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
        engines: localEngines(),
        ...workerOptions,
      });
      workers.push({ worker, backplane: own });
      await worker.ready;
      return worker;
    },
    async close() {
      for (const w of workers.splice(0)) {
        await w.worker.close();
        await w.backplane.close();
      }
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

export type Api = Awaited<ReturnType<typeof startApi>>;

/** A local HTTP target that records when each request arrived. */
export async function startTarget(
  handler: (req: IncomingMessage, res: ServerResponse, n: number) => void | Promise<void> = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>target</title>');
  },
) {
  const arrivals: number[] = [];
  const server = createServer((req, res) => {
    arrivals.push(Date.now());
    void handler(req, res, arrivals.length);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    arrivals,
    get hits() {
      return arrivals.length;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export async function register(api: Api, email: string) {
  const res = await api.app.inject({
    method: 'POST',
    url: '/api/auth/register',
    payload: { email, password: 'correct horse battery' },
  });
  if (res.statusCode !== 201) throw new Error(`register ${email}: ${res.statusCode} ${res.body}`);
  const body = res.json();
  return { token: body.token as string, id: body.user.id as string, role: body.user.role as string };
}

export const auth = (token: string) => ({ authorization: `Bearer ${token}` });
