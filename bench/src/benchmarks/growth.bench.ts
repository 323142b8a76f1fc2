import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { pino } from 'pino';
import { WorkerRegistry, createRedisBackplane } from '@crucible/backplane';
import { HTTP_CACHE_NAMESPACE, TestCacheTags, cachePrefix, createBackplaneCache } from '@crucible/cache';
import { IdempotencyKeysRepository, TestAttemptsRepository, TestsRepository, createDb } from '@crucible/db';
import { createReconciler } from '@crucible/worker';
import { defineBenchmark, median } from '../harness.js';
import type { BenchContext, Metric } from '../harness.js';
import { load } from '../lib/load.js';
import { REDIS_URL } from '../lib/redis.js';
import { startCrucible } from '../lib/stack.js';
import type { CrucibleStack } from '../lib/stack.js';
import { SEARCHED, fillHistory } from './growth/fill.js';
import type { FillSizes } from './growth/fill.js';
import { explainRequestPaths, formatPlans } from './growth/plans.js';

const METRICS: Metric[] = [
  { key: 'submit', label: 'submit p99 ms', better: 'lower' },
  { key: 'page1', label: 'list, page 1, ms', better: 'lower' },
  { key: 'page50', label: 'list, page 50, ms', better: 'lower' },
  { key: 'search', label: 'list, URL search, ms', better: 'lower' },
  { key: 'detail', label: 'detail of a finished test, ms', better: 'lower' },
  { key: 'status', label: 'queue status, ms', better: 'lower' },
  { key: 'reconcile', label: 'reconciler pass, ms', better: 'lower' },
];
const FILLED = 'Crucible, filled database';
const EMPTY = 'the same, empty database';
const PAGE = 20;
/** The measured user's tests in the "empty" database: just enough for a 50th page. */
const READ_ALONE = 50 * PAGE + 50;

function envSize(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, not ${raw}`);
  return n;
}

/** One database and its API, with the measured user and what the reads need. */
interface Side {
  stack: CrucibleStack;
  api: string;
  token: string;
  userId: string;
  workspaceId: string;
  page50Url: string;
  page50AfterId: string;
  /** Finished tests of the measured user not read yet (each detail read takes a fresh one: no cache hit). */
  unread: string[];
  /** Drops the measured user's cached lists and status, so every read asks the database. */
  dropCache(): Promise<void>;
  reconcile(): Promise<number>;
}

async function prepare(ctx: BenchContext, label: string, sizes: FillSizes, reads: number): Promise<Side> {
  const stack = await startCrucible(ctx);
  const api = stack.apiUrls[0]!;
  // A second account is a plain user (the first of a database is its admin, who lists everyone's).
  const res = await fetch(`${api}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      email: `growth-measured-${stack.prefix}@example.com`,
      password: 'a long bench password',
    }),
  });
  if (res.status !== 201) throw new Error(`register answered ${res.status}: ${await res.text()}`);
  const { token, user } = (await res.json()) as { token: string; user: { id: string } };

  const started = performance.now();
  await fillHistory(stack.databaseUrl, { userId: user.id }, sizes);
  ctx.log(
    `  ${label}: filled ${sizes.finished.toLocaleString('en-US')} finished + ${sizes.queued.toLocaleString('en-US')} ` +
      `queued tests in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );

  const pool = new pg.Pool({ connectionString: stack.databaseUrl, max: 1 });
  ctx.defer(() => pool.end());
  const workspaceId = (
    await pool.query<{ id: string }>('SELECT id FROM workspaces WHERE personal_of = $1', [user.id])
  ).rows[0]!.id;
  const unread = (
    await pool.query<{ test_id: string }>(
      `SELECT test_id FROM test_queue WHERE workspace_id = $1 AND status = 'completed' ORDER BY random() LIMIT $2`,
      [workspaceId, reads * (ctx.rounds + 1)],
    )
  ).rows.map((r) => r.test_id);

  // The 50th page as a person reaches it: 49 pages, each the cursor of the next.
  let url = `${api}/api/test/queue/jobs?limit=${PAGE}`;
  let cursor = '';
  for (let page = 1; page < 50; page++) {
    const body = (await (await get(url, token)).json()) as { nextCursor: string | null };
    if (!body.nextCursor) throw new Error(`${label}: no page ${page + 1} of the measured user's tests`);
    cursor = body.nextCursor;
    url = `${api}/api/test/queue/jobs?limit=${PAGE}&cursor=${cursor}`;
  }
  const page50AfterId = Buffer.from(cursor, 'base64url').toString().slice('v1:'.length);

  const backplane = createRedisBackplane({ url: REDIS_URL, prefix: stack.prefix });
  ctx.defer(() => backplane.close());
  await backplane.waitUntilReady();
  const cache = await createBackplaneCache(backplane.cacheStack, { prefix: cachePrefix(stack.prefix) });
  ctx.defer(() => cache.close());
  const responses = cache.namespace(HTTP_CACHE_NAMESPACE);

  const db = createDb(stack.databaseUrl, { max: 2 });
  ctx.defer(() => db.close());
  const reconciler = createReconciler({
    tests: new TestsRepository(db.kysely),
    attempts: new TestAttemptsRepository(db.kysely),
    idempotencyKeys: new IdempotencyKeysRepository(db.kysely),
    queue: backplane.queue,
    monitorQueue: backplane.monitorQueue,
    registry: new WorkerRegistry(backplane.presence),
    eventLog: backplane.eventLog,
    presence: backplane.presence,
    workerId: `growth-${label}`,
    logger: pino({ level: 'silent' }),
  });

  return {
    stack,
    api,
    token,
    userId: user.id,
    workspaceId,
    page50Url: url,
    page50AfterId,
    unread,
    dropCache: () => responses.invalidateTags([TestCacheTags.owner(user.id)]),
    // The pass lock is held for 1 ms, so the next pass takes it again.
    reconcile: () => reconciler.reconcile(1),
  };
}

async function get(url: string, token: string): Promise<Response> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${await res.text()}`);
  return res;
}

/**
 * Median ms of `n` reads, each after the user's cached responses were dropped: only a miss is
 * timed. The drop reaches the api's memory tier by a bus message, which under load may arrive
 * after the read: a read answered from the cache is dropped again and asked again, untimed.
 */
async function coldReads(side: Side, n: number, url: () => string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const target = url();
    for (let attempt = 1; ; attempt++) {
      await side.dropCache();
      if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
      const at = performance.now();
      const res = await get(target, side.token);
      await res.arrayBuffer();
      const ms = performance.now() - at;
      if (res.headers.get('x-cache') !== 'HIT') {
        times.push(ms);
        break;
      }
      if (attempt === 10) throw new Error(`GET ${target} was answered from the cache ten times`);
    }
  }
  return median(times);
}

async function measure(side: Side, submits: number, reads: number): Promise<Record<string, number>> {
  const submit = await load({
    url: `${side.api}/api/test/run`,
    method: 'POST',
    headers: { authorization: `Bearer ${side.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      testType: 'performance',
      url: 'http://127.0.0.1/growth',
      config: { iterations: 1 },
    }),
    connections: 4,
    amount: submits,
  });
  const list = `${side.api}/api/test/queue/jobs?limit=${PAGE}`;
  const page1 = await coldReads(side, reads, () => list);
  const page50 = await coldReads(side, reads, () => side.page50Url);
  const search = await coldReads(side, reads, () => `${list}&url=${encodeURIComponent(SEARCHED)}`);
  const detail = await coldReads(side, reads, () => {
    const testId = side.unread.pop();
    if (!testId) throw new Error('no unread finished test left for a detail read');
    return `${side.api}/api/test/queue/jobs/${testId}`;
  });
  const status = await coldReads(side, reads, () => `${side.api}/api/test/queue/status`);
  const passes: number[] = [];
  for (let i = 0; i < reads; i++) {
    // Past the 1 ms the previous pass held its lock.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const at = performance.now();
    await side.reconcile();
    passes.push(performance.now() - at);
  }
  return { submit: submit.p99, page1, page50, search, detail, status, reconcile: median(passes) };
}

export default defineBenchmark({
  name: 'growth',
  description:
    'submit, list pages, URL search, detail, queue status and a reconciler pass on a year of history beside an empty database',
  order: 9,
  async run(ctx) {
    const sizes: FillSizes = {
      users: envSize('GROWTH_USERS', ctx.size(1_000, 5)),
      finished: envSize('GROWTH_FINISHED', ctx.size(1_000_000, 1_500)),
      heavy: envSize('GROWTH_HEAVY', ctx.size(10_000, READ_ALONE)),
      queued: envSize('GROWTH_QUEUED', ctx.size(50_000, 50)),
    };
    const submits = ctx.size(300, 10);
    const reads = ctx.size(15, 3);
    const empty = await prepare(
      ctx,
      'empty',
      { users: 1, finished: READ_ALONE, heavy: READ_ALONE, queued: 0 },
      reads,
    );
    const filled = await prepare(ctx, 'filled', sizes, reads);

    const n = (v: number) => v.toLocaleString('en-US');
    const result = await ctx.compare({
      title:
        `${n(sizes.finished)} finished tests of ${n(sizes.users)} users and ${n(sizes.queued)} queued, the measured ` +
        `user's ${n(sizes.heavy)} among them, beside a database with only that user's ${n(READ_ALONE)}`,
      metrics: METRICS,
      crucible: { label: FILLED, run: () => measure(filled, submits, reads) },
      anchors: [{ label: EMPTY, run: () => measure(empty, submits, reads) }],
      targets: METRICS.map((m) => ({
        anchor: EMPTY,
        metric: m.key,
        text: '≤ 1.5× empty',
        met: (c: number, a: number) => c <= 1.5 * a,
      })),
    });

    const pool = new pg.Pool({ connectionString: filled.stack.databaseUrl, max: 1 });
    ctx.defer(() => pool.end());
    const { rows } = await pool.query<{ test_id: string }>(
      `SELECT test_id FROM test_queue WHERE workspace_id = $1 AND status = 'queued' ORDER BY id LIMIT 1`,
      [filled.workspaceId],
    );
    const plans = await explainRequestPaths(filled.stack.databaseUrl, {
      viewer: { id: filled.userId, role: 'user', workspaceId: filled.workspaceId },
      finishedTestId: filled.unread[0]!,
      queuedTestId: rows[0]!.test_id,
      page50AfterId: filled.page50AfterId,
      searched: SEARCHED,
    });
    // Beside the report, but a smoke run's (plans of tiny tables, read by nobody) in the temporary
    // folder: the results folder of a smoke run holds its report alone.
    const dir = ctx.smoke
      ? tmpdir()
      : (process.env.BENCH_RESULTS_DIR ?? fileURLToPath(new URL('../../results/', import.meta.url)));
    await mkdir(dir, { recursive: true });
    const file = join(dir, `growth-plans-${new Date().toISOString().replace(/[:.]/g, '-')}.md`);
    await writeFile(
      file,
      formatPlans(`EXPLAIN (ANALYZE, BUFFERS) on the filled database (${result.title})`, plans),
    );
    const scans = plans.filter((p) => p.seqScan).map((p) => p.path);
    ctx.note(
      `EXPLAIN (ANALYZE, BUFFERS) of every query of these paths on the filled database: ${file}. ` +
        (scans.length
          ? `Sequential scans of test_queue: ${[...new Set(scans)].join('; ')}.`
          : 'No sequential scan of test_queue on any of them.') +
        ` Slowest: ${[...plans]
          .sort((a, b) => b.executionMs - a.executionMs)
          .slice(0, 3)
          .map((p) => `${p.path} ${p.executionMs.toFixed(2)} ms`)
          .join(', ')}.`,
    );
    ctx.note(
      "Reads are timed cold: the measured user's cached responses are dropped before each (and each detail " +
        "read is of a test not read before), so each figure is the database's work, not the response cache's. " +
        'The "empty" database holds only the measured user\'s tests that a 50th page needs; no worker runs, so ' +
        "submitted tests wait for their turn, and the reconciler's pass runs in the benchmark's process.",
    );
  },
});
