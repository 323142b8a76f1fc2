import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { cachePrefix, createBackplaneCache } from '@crucible/cache';
import { Egress, parseAllowlist } from '@crucible/egress';
import { createTokenService } from '@crucible/runtime';
import type { QuotaLimits } from '@crucible/contracts';
import type { NotifySettings } from '@crucible/notify';
import { createRedisBackplane } from '@crucible/backplane';
import type { Backplane } from '@crucible/backplane';
import { TEST_REDIS_URL, createTestDeployment, deleteRedisPrefix } from '@crucible/backplane/testing';
import { createDb, migrateToLatest } from '@crucible/db';
import { createEngines, createTestWorker } from '@crucible/worker';
import type { TestWorker, TestWorkerDeps } from '@crucible/worker';
import { buildApi } from '../src/app.js';
import type { BuildApiOptions } from '../src/app.js';
import { startOnFreePort } from './processes.js';
import type { AppProcess } from './processes.js';

export const REDIS_URL = TEST_REDIS_URL;

/**
 * A worker process of the deployment an in-process api runs on (its database, Redis and prefix),
 * concurrency 1, allowed to reach loopback targets; `env` adds or overrides. On a free health port
 * (`startOnFreePort`). The caller stops it.
 */
export function spawnWorkerOf(
  api: { databaseUrl: string; prefix: string },
  env: Record<string, string> = {},
  timeoutMs = 120_000,
): Promise<AppProcess> {
  return startOnFreePort(
    'worker',
    'apps/worker/src/main.ts',
    (port) => ({
      DATABASE_URL: api.databaseUrl,
      REDIS_URL,
      CRUCIBLE_PREFIX: api.prefix,
      WORKER_HEALTH_PORT: String(port),
      WORKER_CONCURRENCY: '1',
      TARGET_ALLOWLIST: '127.0.0.1',
      ...env,
    }),
    '/health/ready',
    timeoutMs,
  );
}
export const SECRET = 'test-secret-test-secret-test-secret-0123';

/** Deletes every key of a test's prefix (SCAN + UNLINK, never KEYS). */
export const deletePrefix = deleteRedisPrefix;

/**
 * A backplane on a distributed deployment's prefix with connections of its own, as another
 * process of it has; the caller closes it.
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
 * A fresh API on a deployment of its own, in the mode of the test run (`testBackplaneMode()`), with
 * in-process workers on demand. Pass `shared` to start another api process of the same distributed
 * deployment (same database and prefix, connections of its own).
 */
export async function startApi(
  {
    monitorMinIntervalSeconds,
    quotaLimits,
    onQuery,
    notify,
    ...options
  }: BuildApiOptions & {
    monitorMinIntervalSeconds?: number;
    quotaLimits?: QuotaLimits;
    /** Called with each query the api's database runs (`DbOptions.onQuery`). */
    onQuery?: (sql: string) => void;
    /** Notification settings (SMTP, providers' endpoints, grouping). @defaultValue every default */
    notify?: NotifySettings;
  } = {},
  shared?: { databaseUrl: string; prefix: string },
) {
  const deployment = await createTestDeployment({ join: shared });
  const { prefix, databaseUrl } = deployment;
  const db = createDb(databaseUrl, onQuery ? { onQuery } : {});
  await migrateToLatest(db.kysely);
  const backplane = await deployment.backplane();
  const { queue, eventLog } = backplane;
  const workers: TestWorker[] = [];
  const tokens = createTokenService(SECRET);
  const cache = await createBackplaneCache(backplane.cacheStack, { prefix: cachePrefix(prefix) });
  // Loopback is opened as in a local deployment; submissions never connect anywhere.
  const app = await buildApi(
    {
      db,
      backplane,
      tokens,
      targetAllowlist: parseAllowlist('127.0.0.1'),
      cache,
      monitorMinIntervalSeconds,
      ...(quotaLimits ? { quotaLimits } : {}),
      ...(notify ? { notify } : {}),
    },
    {
      ...options,
      // Test files register their users from one address, more of them than a person would,
      // without invitations unless they test those.
      authThrottle: { registrationsPerHour: 10_000, ...options.authThrottle },
      registration: 'registration' in options ? options.registration : 'open',
    },
  );
  await app.ready();
  // For looking at a distributed deployment's keys; embedded mode has no Redis.
  const redis = deployment.mode === 'distributed' ? new Redis(REDIS_URL) : undefined;
  return {
    app,
    db,
    queue,
    eventLog,
    tokens,
    prefix,
    /** Distributed mode only. */
    get redis(): Redis {
      if (!redis) throw new Error('embedded mode has no Redis');
      return redis;
    },
    cache,
    tickets: backplane.tickets,
    databaseUrl,
    backplane,
    /** Loses every queued job while PostgreSQL keeps its rows (see `TestDeployment.loseQueue`). */
    loseQueue: () => deployment.loseQueue(),
    /**
     * A worker on the API's database and deployment, closed with the API: in distributed mode with
     * a backplane of its own, like a worker process; in embedded mode on the one process's backplane.
     */
    async startWorker(workerOptions: WorkerOptions = {}): Promise<TestWorker> {
      const worker = createTestWorker({
        db,
        backplane: await deployment.backplane(),
        // Like every real worker, its status events drop the deployment's cached responses.
        cache,
        logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
        engines: localEngines(),
        ...workerOptions,
      });
      workers.push(worker);
      await worker.ready;
      return worker;
    },
    async close() {
      for (const w of workers.splice(0)) await w.close();
      await app.close();
      await cache.close();
      redis?.disconnect();
      await db.close();
      await deployment.close();
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
