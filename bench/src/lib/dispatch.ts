import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pubsubPrefix } from '@crucible/backplane';
import { Events, TestQueueNames, bullPrefix } from '@crucible/contracts';
import type { BenchContext } from '../harness.js';
import { LatencyRecorder } from './latency.js';
import { load } from './load.js';
import { atRate, until } from './pace.js';
import { cpuAccount } from './cpu.js';
import type { CpuShare } from './cpu.js';
import { startProcess, waitForOutput } from './processes.js';
import type { ChildApp } from './processes.js';
import type { CrucibleStack } from './stack.js';

/** Latency percentiles of one round, in milliseconds. */
export interface DispatchLatency {
  started_p50: number;
  started_p99: number;
  completed_p50: number;
  completed_p99: number;
}

/** Generous: a round on a busy shared machine may take many times its nominal length. */
export const ROUND_TIMEOUT_MS = 180_000;

/**
 * Drives Crucible's dispatch path from outside, as a user would: submits over HTTP, watches the
 * test's channel on Redis pub/sub (what the gateway relays), and reads the record in PostgreSQL.
 */
export class CrucibleDispatch {
  readonly #stack: CrucibleStack;
  readonly #body: string;
  readonly #pool: pg.Pool;
  readonly #queue: Queue;
  readonly #started = new Map<string, number>();
  readonly #completed = new Map<string, number>();
  readonly #failed = new Set<string>();

  private constructor(stack: CrucibleStack, targetUrl: string, pool: pg.Pool, queue: Queue) {
    this.#stack = stack;
    this.#body = JSON.stringify({ testType: 'performance', url: targetUrl, config: { iterations: 1 } });
    this.#pool = pool;
    this.#queue = queue;
  }

  static async create(ctx: BenchContext, stack: CrucibleStack, targetUrl: string): Promise<CrucibleDispatch> {
    const pool = new pg.Pool({ connectionString: stack.databaseUrl, max: 2 });
    ctx.defer(() => pool.end());
    const control = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
    ctx.defer(() => control.quit());
    const queue = new Queue(TestQueueNames.TESTS, { connection: control, prefix: bullPrefix(stack.prefix) });
    ctx.defer(() => queue.close());
    const dispatch = new CrucibleDispatch(stack, targetUrl, pool, queue);

    const subscriber = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
    ctx.defer(() => subscriber.quit());
    const channelPrefix = `${pubsubPrefix(stack.prefix)}test-progress-`;
    subscriber.on('pmessage', (_pattern: string, channel: string, payload: string) => {
      const at = performance.now();
      const testId = channel.slice(channelPrefix.length);
      const { event } = JSON.parse(payload) as { event: string };
      if (event === Events.TEST_STARTED) dispatch.#started.set(testId, at);
      else if (event === Events.TEST_COMPLETED) dispatch.#completed.set(testId, at);
      else if (event === Events.TEST_FAILED) dispatch.#failed.add(testId);
    });
    await subscriber.psubscribe(`${channelPrefix}*`);
    return dispatch;
  }

  async #submit(apiUrl: string): Promise<string> {
    const res = await fetch(`${apiUrl}/api/test/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.#stack.token}`, 'content-type': 'application/json' },
      body: this.#body,
    });
    const body = await res.text();
    if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${body}`);
    return (JSON.parse(body) as { testId: string }).testId;
  }

  #clear() {
    this.#started.clear();
    this.#completed.clear();
    this.#failed.clear();
  }

  /** Submits `count` tests at `perSecond` (round-robin over the APIs) and times each to its events. */
  async latency(perSecond: number, count: number): Promise<DispatchLatency> {
    this.#clear();
    const sent = new Map<string, number>();
    const apis = this.#stack.apiUrls;
    await atRate(perSecond, count, async (i) => {
      const at = performance.now();
      sent.set(await this.#submit(apis[i % apis.length]!), at);
    });
    await until(() => this.#completed.size + this.#failed.size >= count, {
      timeoutMs: ROUND_TIMEOUT_MS,
      describe: () => `${this.#completed.size} of ${count} tests completed`,
    });
    if (this.#failed.size) throw new Error(`${this.#failed.size} of ${count} trivial tests failed`);
    const started = new LatencyRecorder();
    const completed = new LatencyRecorder();
    for (const [testId, at] of sent) {
      started.record(this.#started.get(testId)! - at);
      completed.record(this.#completed.get(testId)! - at);
    }
    return {
      started_p50: started.percentile(50),
      started_p99: started.percentile(99),
      completed_p50: completed.percentile(50),
      completed_p99: completed.percentile(99),
    };
  }

  /**
   * Builds a backlog of `count` tests through the API while the queue is paused, then resumes it
   * and returns tests/s from resume until the last test's `test:completed` event (published once
   * its row says completed; the rows are counted once at the end to make sure), with the CPU per
   * test of the worker processes `pids`, PostgreSQL and Redis meanwhile.
   */
  async drain(count: number, pids: number[] = []): Promise<DrainResult> {
    await this.#pool.query('TRUNCATE test_queue CASCADE');
    await this.#queue.pause();
    await load({
      url: `${this.#stack.apiUrls[0]}/api/test/run`,
      method: 'POST',
      headers: { authorization: `Bearer ${this.#stack.token}`, 'content-type': 'application/json' },
      body: this.#body,
      connections: Math.min(50, count),
      amount: count,
    });
    this.#clear();
    const account = cpuAccount(pids);
    const started = performance.now();
    await this.#queue.resume();
    // Events, not a COUNT(*) of the table every few ms: polling the table would load the very
    // PostgreSQL being measured.
    await until(() => this.#completed.size + this.#failed.size >= count, {
      timeoutMs: ROUND_TIMEOUT_MS,
      intervalMs: 5,
      describe: () => `${this.#completed.size} of ${count} drained`,
    });
    const seconds = (performance.now() - started) / 1000;
    const cpu = account.stop(count);
    const { rows } = await this.#pool.query<{ completed: number; failed: number }>(
      `SELECT count(*) FILTER (WHERE status = 'completed')::int AS completed,
              count(*) FILTER (WHERE status = 'failed')::int AS failed
         FROM test_queue`,
    );
    const done = rows[0]!;
    if (done.failed || this.#failed.size) throw new Error(`${done.failed} of ${count} trivial tests failed`);
    if (done.completed !== count) throw new Error(`${count} tests drained, ${done.completed} rows completed`);
    return drainResult(count / seconds, cpu);
  }
}

/** Tests (jobs) per second of a drain, and CPU µs per test of the worker, PostgreSQL and Redis. */
export interface DrainResult {
  rate: number;
  cpu: number;
  cpuWorker: number;
  /** 0 where PostgreSQL has no part (bare BullMQ on Redis). */
  cpuPg: number;
  cpuRedis: number;
}

export function drainResult(rate: number, cpu: CpuShare, postgres = true): DrainResult {
  const shared = { rate, cpuWorker: cpu.server, cpuRedis: cpu.redis };
  return postgres
    ? { ...shared, cpu: cpu.server + cpu.postgres + cpu.redis, cpuPg: cpu.postgres }
    : // Bare BullMQ on Redis: PostgreSQL has no part in it.
      { ...shared, cpu: cpu.server + cpu.redis, cpuPg: 0 };
}

/** The same two measures on bare BullMQ: a no-op job, `Queue.add` in, a worker process out. */
export class BullmqDispatch {
  readonly #ctx: BenchContext;
  readonly #prefix: string;
  readonly #queue: Queue;
  readonly #completed = new Map<string, number>();
  readonly #redisUrl: string;

  private constructor(ctx: BenchContext, redisUrl: string, prefix: string, queue: Queue) {
    this.#ctx = ctx;
    this.#redisUrl = redisUrl;
    this.#prefix = prefix;
    this.#queue = queue;
  }

  /** `keyPrefix` must lie under the benchmark's own Redis prefix. */
  static async create(ctx: BenchContext, redisUrl: string, keyPrefix: string): Promise<BullmqDispatch> {
    const prefix = bullPrefix(keyPrefix);
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    ctx.defer(() => connection.quit());
    const queue = new Queue('tests', { connection, prefix });
    ctx.defer(() => queue.close());
    const dispatch = new BullmqDispatch(ctx, redisUrl, prefix, queue);
    const events = new QueueEvents('tests', {
      connection: new Redis(redisUrl, { maxRetriesPerRequest: null }),
      prefix,
    });
    ctx.defer(() => events.close());
    events.on('completed', ({ jobId }) => dispatch.#completed.set(jobId, performance.now()));
    await events.waitUntilReady();
    return dispatch;
  }

  async startWorker(concurrency: number): Promise<ChildApp> {
    const proc = startProcess('bullmq-worker', 'bench/src/anchors/bullmq-worker.ts', {
      REDIS_URL: this.#redisUrl,
      ANCHOR_BULL_PREFIX: this.#prefix,
      ANCHOR_CONCURRENCY: String(concurrency),
    });
    this.#ctx.defer(() => proc.stop());
    await waitForOutput(proc, 'anchor worker ready');
    return proc;
  }

  /** add→completed of `count` no-op jobs added at `perSecond`. */
  async latency(perSecond: number, count: number): Promise<DispatchLatency> {
    this.#completed.clear();
    const sent = new Map<string, number>();
    await atRate(perSecond, count, async () => {
      const jobId = randomUUID();
      sent.set(jobId, performance.now());
      await this.#queue.add('noop', {}, { jobId, removeOnComplete: true });
    });
    await until(() => this.#completed.size >= count, {
      timeoutMs: ROUND_TIMEOUT_MS,
      describe: () => `${this.#completed.size} of ${count} jobs completed`,
    });
    const completed = new LatencyRecorder();
    for (const [jobId, at] of sent) completed.record(this.#completed.get(jobId)! - at);
    const p50 = completed.percentile(50);
    const p99 = completed.percentile(99);
    // add→completed stands beside both of Crucible's figures (submit→started and submit→completed).
    return { started_p50: p50, started_p99: p99, completed_p50: p50, completed_p99: p99 };
  }

  /** Jobs/s draining a paused backlog of `count` no-op jobs once resumed, with CPU per job of `pids`, PostgreSQL and Redis. */
  async drain(count: number, pids: number[] = []): Promise<DrainResult> {
    await this.#queue.pause();
    for (let i = 0; i < count; i += 1000) {
      const size = Math.min(1000, count - i);
      await this.#queue.addBulk(
        Array.from({ length: size }, () => ({ name: 'noop', data: {}, opts: { removeOnComplete: true } })),
      );
    }
    const account = cpuAccount(pids);
    const started = performance.now();
    await this.#queue.resume();
    let left = count;
    await until(
      async () => {
        const counts = await this.#queue.getJobCounts('wait', 'prioritized', 'active', 'delayed');
        left = Object.values(counts).reduce((a, b) => a + b, 0);
        return left === 0;
      },
      { timeoutMs: ROUND_TIMEOUT_MS, intervalMs: 10, describe: () => `${left} of ${count} jobs left` },
    );
    const rate = count / ((performance.now() - started) / 1000);
    return drainResult(rate, account.stop(count), false);
  }
}
