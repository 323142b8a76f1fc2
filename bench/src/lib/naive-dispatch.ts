import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { bullPrefix } from '@crucible/contracts';
import type { BenchContext } from '../harness.js';
import { cpuAccount } from './cpu.js';
import { ROUND_TIMEOUT_MS, drainResult } from './dispatch.js';
import type { DrainResult } from './dispatch.js';
import { until } from './pace.js';
import { startProcess, waitForOutput } from './processes.js';
import type { ChildApp } from './processes.js';
import type { CrucibleStack } from './stack.js';

/** The anchor's table: made LIKE test_queue (columns, defaults, checks, every index), beside it. */
const TABLE = 'naive_tests';

/**
 * The fair anchor of Crucible's drain: a bare BullMQ worker (`src/anchors/naive-test-worker.ts`)
 * doing the same work naively — one undici GET of the same target, the row marked running and
 * completed by one UPDATE each on a table like `test_queue`, one PUBLISH per status change.
 */
export class NaiveDispatch {
  readonly #ctx: BenchContext;
  readonly #stack: CrucibleStack;
  readonly #targetUrl: string;
  readonly #prefix: string;
  readonly #channelPrefix: string;
  readonly #pool: pg.Pool;
  readonly #queue: Queue;
  readonly #completed = new Set<string>();

  private constructor(
    ctx: BenchContext,
    stack: CrucibleStack,
    targetUrl: string,
    pool: pg.Pool,
    queue: Queue,
  ) {
    this.#ctx = ctx;
    this.#stack = stack;
    this.#targetUrl = targetUrl;
    this.#prefix = bullPrefix(`${stack.prefix}:naive`);
    this.#channelPrefix = `${stack.prefix}:naive:test-progress-`;
    this.#pool = pool;
    this.#queue = queue;
  }

  static async create(ctx: BenchContext, stack: CrucibleStack, targetUrl: string): Promise<NaiveDispatch> {
    const pool = new pg.Pool({ connectionString: stack.databaseUrl, max: 2 });
    ctx.defer(() => pool.end());
    // Triggers and foreign keys are not copied: the naive table has no quota counters to keep.
    await pool.query(`CREATE TABLE ${TABLE} (LIKE test_queue INCLUDING ALL)`);
    const connection = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
    ctx.defer(() => connection.quit());
    const queue = new Queue('naive-tests', { connection, prefix: bullPrefix(`${stack.prefix}:naive`) });
    ctx.defer(() => queue.close());
    const dispatch = new NaiveDispatch(ctx, stack, targetUrl, pool, queue);
    const subscriber = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
    ctx.defer(() => subscriber.quit());
    subscriber.on('pmessage', (_pattern: string, _channel: string, payload: string) => {
      const { event, testId } = JSON.parse(payload) as { event: string; testId: string };
      if (event === 'test:completed') dispatch.#completed.add(testId);
    });
    await subscriber.psubscribe(`${dispatch.#channelPrefix}*`);
    return dispatch;
  }

  async startWorker(concurrency: number): Promise<ChildApp> {
    const proc = startProcess('naive-worker', 'bench/src/anchors/naive-test-worker.ts', {
      DATABASE_URL: this.#stack.databaseUrl,
      REDIS_URL: this.#stack.redisUrl,
      ANCHOR_TABLE: TABLE,
      ANCHOR_CHANNEL_PREFIX: this.#channelPrefix,
      ANCHOR_BULL_PREFIX: this.#prefix,
      ANCHOR_CONCURRENCY: String(concurrency),
    });
    this.#ctx.defer(() => proc.stop());
    await waitForOutput(proc, 'anchor worker ready');
    return proc;
  }

  /**
   * Tests/s draining a paused backlog of `count` queued rows and their jobs once resumed (until the
   * last `test:completed` PUBLISH), with CPU per test of `pids`, PostgreSQL and Redis meanwhile.
   */
  async drain(count: number, pids: number[] = []): Promise<DrainResult> {
    await this.#pool.query(`TRUNCATE ${TABLE}`);
    await this.#queue.pause();
    const { rows } = await this.#pool.query<{ test_id: string }>(
      `INSERT INTO ${TABLE} (test_id, test_type, url, config)
       SELECT gen_random_uuid(), 'performance', $1, '{"iterations":1}' FROM generate_series(1, $2::int)
       RETURNING test_id`,
      [this.#targetUrl, count],
    );
    for (let i = 0; i < rows.length; i += 1000) {
      await this.#queue.addBulk(
        rows.slice(i, i + 1000).map((r) => ({
          name: 'performance',
          data: { testId: r.test_id, url: this.#targetUrl },
          opts: { removeOnComplete: { count: 100 } },
        })),
      );
    }
    this.#completed.clear();
    const account = cpuAccount(pids);
    const started = performance.now();
    await this.#queue.resume();
    await until(() => this.#completed.size >= count, {
      timeoutMs: ROUND_TIMEOUT_MS,
      intervalMs: 5,
      describe: () => `${this.#completed.size} of ${count} drained`,
    });
    const seconds = (performance.now() - started) / 1000;
    const cpu = account.stop(count);
    const done = await this.#pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${TABLE} WHERE status = 'completed'`,
    );
    if (done.rows[0]!.n !== count)
      throw new Error(`${count} tests drained, ${done.rows[0]!.n} rows completed`);
    return drainResult(count / seconds, cpu);
  }
}
