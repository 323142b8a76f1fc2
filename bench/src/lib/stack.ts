import { fileURLToPath } from 'node:url';
import { createTestDatabase } from '@crucible/db/testing';
import type { BenchContext } from '../harness.js';
import { freePort, startProcess, waitForReady } from './processes.js';
import type { ChildApp } from './processes.js';
import { REDIS_URL, benchPrefix, deletePrefix } from './redis.js';

const JWT_SECRET = 'bench-secret-bench-secret-bench-secret-0123';

const HEAP_SAMPLING = fileURLToPath(new URL('./heap-sampling.mjs', import.meta.url));

/**
 * Node.js flags for every process of the stack: with `BENCH_CPU_PROF=<dir>` each writes a V8 CPU
 * profile there when it exits (open it in Chrome DevTools or speedscope to name the hot path); with
 * `BENCH_HEAP_PROF=<dir>` a sampling heap profile of what it allocated, garbage included.
 */
export function profileArgs(): string[] {
  const cpu = process.env.BENCH_CPU_PROF;
  return [
    ...(cpu ? ['--cpu-prof', `--cpu-prof-dir=${cpu}`] : []),
    ...(process.env.BENCH_HEAP_PROF ? ['--import', HEAP_SAMPLING] : []),
  ];
}

export interface CrucibleStackOptions {
  /** API processes. @defaultValue 1 */
  apis?: number;
  /** Worker processes started with the stack (more with `startWorkers`). @defaultValue 0 */
  workers?: number;
  /** WORKER_CONCURRENCY of those workers. @defaultValue 5 */
  workerConcurrency?: number;
  /** Gateway processes. @defaultValue 0 */
  gateways?: number;
  /** More environment for every process (e.g. `MONITOR_MIN_INTERVAL_SECONDS`). @defaultValue none */
  env?: Record<string, string>;
}

export interface CrucibleStack {
  databaseUrl: string;
  /** CRUCIBLE_PREFIX of every process (and of the Redis keys deleted at the end). */
  prefix: string;
  redisUrl: string;
  apiUrls: string[];
  /** Process ids of the API processes (for CPU accounts), in the order of `apiUrls`. */
  apiPids: number[];
  /** `ws://…/ws` of each gateway. */
  gatewayUrls: string[];
  /** A session token of the one registered user. */
  token: string;
  userId: string;
  /** The environment every process of the stack gets (for a process a benchmark starts itself). */
  env: Record<string, string>;
  startWorkers(count: number, concurrency: number): Promise<ChildApp[]>;
  stopWorkers(workers: ChildApp[]): Promise<void>;
}

/** Workspace quotas every check of which runs but none of which a benchmark reaches. */
export const BENCH_QUOTAS = {
  WORKSPACE_MAX_QUEUED: '10000000',
  WORKSPACE_MAX_RUNNING: '100000',
  WORKSPACE_STRESS_BUDGET: '1000000000',
  WORKSPACE_SUBMIT_RATE: '100000000',
} as const;

/** The quota variables that turn the submission's checks off (0: no limit), to measure what they cost. */
export const NO_QUOTAS = {
  WORKSPACE_MAX_QUEUED: '0',
  WORKSPACE_STRESS_BUDGET: '0',
  WORKSPACE_SUBMIT_RATE: '0',
} as const;

/**
 * Crucible as it runs in production: api, worker and gateway as separate processes on a database
 * of their own and a Redis prefix of their own, torn down (processes stopped, database dropped,
 * keys deleted) when the benchmark ends.
 */
export async function startCrucible(
  ctx: BenchContext,
  options: CrucibleStackOptions = {},
): Promise<CrucibleStack> {
  const database = await createTestDatabase();
  const prefix = benchPrefix();
  ctx.defer(async () => {
    await database.drop();
    await deletePrefix(prefix);
  });
  const env: Record<string, string> = {
    DATABASE_URL: database.url,
    REDIS_URL,
    JWT_SECRET,
    CRUCIBLE_PREFIX: prefix,
    HOST: '127.0.0.1',
    TARGET_ALLOWLIST: '127.0.0.1,localhost',
    LOG_LEVEL: 'warn',
    // The benchmark's one user registers itself (the api's default asks for an invitation).
    REGISTRATION: 'open',
    // One workspace submits far more than a person would: its quotas are checked on every
    // submission and every start, as in production, but set where they never refuse.
    ...BENCH_QUOTAS,
    ...options.env,
  };
  const running: ChildApp[] = [];
  ctx.defer(() => Promise.all(running.map((p) => p.stop())));

  const start = async (name: string, entry: string, extra: Record<string, string>, readyUrl: string) => {
    const proc = startProcess(name, entry, { ...env, ...extra }, profileArgs());
    running.push(proc);
    await waitForReady(readyUrl, proc);
    return proc;
  };

  const apiUrls: string[] = [];
  const apiPids: number[] = [];
  // One at a time: the first runs the migrations, the others find them done.
  for (let i = 0; i < (options.apis ?? 1); i++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const api = await start(
      `api-${i + 1}`,
      'apps/api/src/main.ts',
      { PORT: String(port) },
      `${url}/health/ready`,
    );
    apiUrls.push(url);
    apiPids.push(api.child.pid!);
  }

  const gatewayUrls: string[] = [];
  for (let i = 0; i < (options.gateways ?? 0); i++) {
    const port = await freePort();
    await start(
      `gateway-${i + 1}`,
      'apps/gateway/src/main.ts',
      { GATEWAY_PORT: String(port) },
      `http://127.0.0.1:${port}/health/ready`,
    );
    gatewayUrls.push(`ws://127.0.0.1:${port}/ws`);
  }

  let workerCount = 0;
  const startWorkers = (count: number, concurrency: number) =>
    Promise.all(
      Array.from({ length: count }, async () => {
        const port = await freePort();
        return start(
          `worker-${++workerCount}`,
          'apps/worker/src/main.ts',
          { WORKER_HEALTH_PORT: String(port), WORKER_CONCURRENCY: String(concurrency) },
          `http://127.0.0.1:${port}/health/ready`,
        );
      }),
    );
  const stopWorkers = async (workers: ChildApp[]) => {
    await Promise.all(workers.map((w) => w.stop()));
    for (const w of workers) running.splice(running.indexOf(w), 1);
  };
  if (options.workers) await startWorkers(options.workers, options.workerConcurrency ?? 5);

  const res = await fetch(`${apiUrls[0]}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'bench@example.com', password: 'a long bench password' }),
  });
  if (res.status !== 201) throw new Error(`register answered ${res.status}: ${await res.text()}`);
  const registered = (await res.json()) as { token: string; user: { id: string } };

  return {
    databaseUrl: database.url,
    prefix,
    redisUrl: REDIS_URL,
    apiUrls,
    apiPids,
    gatewayUrls,
    token: registered.token,
    userId: registered.user.id,
    env,
    startWorkers,
    stopWorkers,
  };
}
