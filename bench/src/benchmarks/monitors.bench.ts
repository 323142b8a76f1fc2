import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { MONITOR_QUEUE_NAME, bullPrefix } from '@crucible/contracts';
import { defineBenchmark } from '../harness.js';
import type { BenchContext, Subject } from '../harness.js';
import { cpuAccount } from '../lib/cpu.js';
import { until } from '../lib/pace.js';
import { startCrucible } from '../lib/stack.js';
import type { CrucibleStack } from '../lib/stack.js';
import { startTarget } from '../lib/target.js';
import type { Target } from '../lib/target.js';

/** Generous: settling a window's runs on a busy shared machine may take many times its length. */
const SETTLE_TIMEOUT_MS = 300_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Window {
  /** The first slot of the window (ms since the epoch) and how many slots it has. */
  first: number;
  slots: number;
}

/** One window's figures; `skew` is the run's start (or, scheduler alone, its claim) after its slot. */
interface WindowResult {
  skewP50: number;
  skewP99: number;
  duplicates: number;
  missed: number;
  /** CPU µs per run of the worker processes, PostgreSQL and Redis; `cpuWorkers` of the workers alone. */
  cpu: number;
  cpuWorkers: number;
  runs: number;
}

/** The machine's CPU a window cost, per run: what the bench process itself spends is left out. */
const cpuPerRun = (share: { server: number; postgres: number; redis: number }) => ({
  cpu: share.server + share.postgres + share.redis,
  cpuWorkers: share.server,
});

/**
 * The benchmark's monitors, all on one interval: resumed together from the next slot (as
 * `enabled: true` does), paused together after `slots` slots, and measured in PostgreSQL.
 */
class MonitorFleet {
  readonly #pool: pg.Pool;
  readonly #queue: Queue;
  readonly #target: Target;
  readonly #interval: number;
  readonly #count: number;
  readonly #pids: () => number[];

  constructor(
    pool: pg.Pool,
    queue: Queue,
    target: Target,
    options: { intervalSec: number; count: number; pids: () => number[] },
  ) {
    this.#pool = pool;
    this.#queue = queue;
    this.#target = target;
    this.#interval = options.intervalSec * 1000;
    this.#count = options.count;
    this.#pids = options.pids;
  }

  /** Creates the monitors paused, with one `crucible deploy` request, as a user would. */
  static async deploy(
    stack: CrucibleStack,
    target: Target,
    count: number,
    intervalSec: number,
  ): Promise<void> {
    const monitors = Array.from({ length: count }, (_, i) => ({
      codeKey: `monitor-${i}`,
      name: `monitor ${i}`,
      test: { testType: 'performance', url: target.url, config: { iterations: 1 } },
      schedule: { everySeconds: intervalSec },
      enabled: false,
    }));
    const res = await fetch(`${stack.apiUrls[0]}/api/monitors/deploy`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ monitors }),
    });
    if (res.status !== 200) throw new Error(`deploy answered ${res.status}: ${await res.text()}`);
  }

  /**
   * Resumes every monitor from a slot at least a second away (so no scheduler claims before all are
   * resumed), waits out `slots` slots and pauses them half an interval after the last one.
   */
  async #runWindow(slots: number): Promise<Window> {
    const now = Date.now();
    const first = Math.ceil((now + 1000) / this.#interval) * this.#interval;
    await this.#pool.query('UPDATE monitors SET enabled = true, next_run_at = $1', [new Date(first)]);
    await sleep(first + (slots - 1) * this.#interval + this.#interval / 2 - Date.now());
    await this.#pool.query('UPDATE monitors SET enabled = false, next_run_at = NULL');
    return { first, slots };
  }

  /** The window's runs: how many, how late (by `column`), and how many slots have no run. */
  async #measure(w: Window, column: 'started_at' | 'created_at') {
    const { rows } = await this.#pool.query<{ runs: number; p50: number | null; p99: number | null }>(
      `SELECT count(*)::int AS runs,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM ${column} - scheduled_for)) * 1000 AS p50,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM ${column} - scheduled_for)) * 1000 AS p99
         FROM test_queue
        WHERE monitor_id IS NOT NULL AND scheduled_for >= $1 AND scheduled_for <= $2`,
      [new Date(w.first), new Date(w.first + (w.slots - 1) * this.#interval)],
    );
    const { runs, p50, p99 } = rows[0]!;
    return { runs, p50: p50 ?? 0, p99: p99 ?? 0, missed: w.slots * this.#count - runs };
  }

  /**
   * Crucible as deployed: both workers' schedulers claim the slots and their engines run them.
   * Skew is each run's start after its slot; duplicates are target requests beyond one per run
   * (each run of `performance` with one iteration sends exactly one).
   */
  async full(slots: number): Promise<WindowResult> {
    const served = await this.#target.served();
    const account = cpuAccount(this.#pids());
    const w = await this.#runWindow(slots);
    const expected = w.slots * this.#count;
    await until(
      async () => {
        const { rows } = await this.#pool.query<{ open: number; runs: number }>(
          `SELECT count(*) FILTER (WHERE status IN ('queued', 'running'))::int AS open, count(*)::int AS runs
             FROM test_queue WHERE monitor_id IS NOT NULL AND scheduled_for >= $1`,
          [new Date(w.first)],
        );
        return rows[0]!.open === 0 && rows[0]!.runs > 0;
      },
      // Once a second: polling faster would load the PostgreSQL being measured.
      {
        timeoutMs: SETTLE_TIMEOUT_MS,
        intervalMs: 1000,
        describe: () => `runs of ${expected} slots still open`,
      },
    );
    const m = await this.#measure(w, 'started_at');
    const cpu = account.stop(m.runs);
    const { rows } = await this.#pool.query<{ completed: number }>(
      `SELECT count(*)::int AS completed FROM test_queue
        WHERE monitor_id IS NOT NULL AND scheduled_for >= $1 AND status = 'completed'`,
      [new Date(w.first)],
    );
    const completed = rows[0]!.completed;
    if (completed !== m.runs)
      throw new Error(`${m.runs - completed} of ${m.runs} monitor runs did not complete`);
    return {
      skewP50: m.p50,
      skewP99: m.p99,
      duplicates: (await this.#target.served()) - served - completed,
      missed: m.missed,
      ...cpuPerRun(cpu),
      runs: m.runs,
    };
  }

  /**
   * The schedulers alone: the same worker processes with the monitors' queue paused, so nothing
   * runs and their CPU is the scheduling (plus their idle upkeep). Skew is each run's claim (its
   * row written) after its slot. The claimed runs are then cancelled and their jobs dropped, so
   * the next window starts with an empty queue.
   */
  async schedulerAlone(slots: number): Promise<WindowResult> {
    await this.#queue.pause();
    const account = cpuAccount(this.#pids());
    const w = await this.#runWindow(slots);
    // A pass under way when the monitors were paused finishes first.
    await sleep(1000);
    const m = await this.#measure(w, 'created_at');
    const cpu = account.stop(m.runs);
    await this.#pool.query(
      `UPDATE test_queue SET status = 'cancelled', completed_at = now()
        WHERE monitor_id IS NOT NULL AND status = 'queued'`,
    );
    await this.#queue.obliterate({ force: true });
    await this.#queue.resume();
    return {
      skewP50: m.p50,
      skewP99: m.p99,
      duplicates: 0,
      missed: m.missed,
      ...cpuPerRun(cpu),
      runs: m.runs,
    };
  }
}

const metrics = (r: WindowResult) => ({
  skewP50: r.skewP50,
  skewP99: r.skewP99,
  duplicates: r.duplicates,
  missed: r.missed,
  cpu: r.cpu,
  cpuWorkers: r.cpuWorkers,
});

async function fleetOf(ctx: BenchContext, stack: CrucibleStack, target: Target, pids: () => number[]) {
  const pool = new pg.Pool({ connectionString: stack.databaseUrl, max: 2 });
  ctx.defer(() => pool.end());
  const connection = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
  ctx.defer(() => connection.quit());
  const queue = new Queue(MONITOR_QUEUE_NAME, { connection, prefix: bullPrefix(stack.prefix) });
  ctx.defer(() => queue.close());
  return (options: { intervalSec: number; count: number }) =>
    new MonitorFleet(pool, queue, target, { ...options, pids });
}

export default defineBenchmark({
  name: 'monitors',
  description:
    'monitors on a short interval with 2 worker processes: start skew after each slot, duplicates, missed slots, CPU per run',
  order: 7,
  async run(ctx) {
    const count = ctx.size(1_000, 10);
    const intervalSec = ctx.size(10, 1);
    // Three windows of four slots: two minutes of monitoring in all; in smoke, three of one.
    const slots = ctx.size(4, 1);
    const target = await startTarget(ctx);
    const stack = await startCrucible(ctx, {
      env: { MONITOR_MIN_INTERVAL_SECONDS: String(intervalSec) },
    });
    const workers = await stack.startWorkers(2, 5);
    const deployStarted = performance.now();
    await MonitorFleet.deploy(stack, target, count, intervalSec);
    const deploySeconds = (performance.now() - deployStarted) / 1000;
    const fleet = (await fleetOf(ctx, stack, target, () => workers.map((w) => w.child.pid!)))({
      intervalSec,
      count,
    });
    // Warm-up: one slot, unrecorded (JIT, connection pools, the target's keep-alive sockets).
    if (!ctx.smoke) await fleet.full(1);

    const full: WindowResult[] = [];
    const alone: WindowResult[] = [];
    const subject = (label: string, run: () => Promise<WindowResult>, into: WindowResult[]): Subject => ({
      label,
      run: async () => {
        const r = await run();
        into.push(r);
        ctx.log(`    ${r.runs} runs, skew p50 ${Math.round(r.skewP50)} ms, p99 ${Math.round(r.skewP99)} ms`);
        return metrics(r);
      },
    });
    await ctx.compare({
      warmup: false,
      title:
        `${count.toLocaleString('en-US')} monitors (performance, 1 iteration, local target) every ${intervalSec} s, ` +
        `2 worker processes (MONITOR_CONCURRENCY 5 each), ${slots}-slot windows`,
      metrics: [
        { key: 'skewP50', label: 'skew p50 ms (run started − slot; alone: claimed − slot)', better: 'lower' },
        { key: 'skewP99', label: 'skew p99 ms', better: 'lower' },
        { key: 'duplicates', label: 'duplicate runs', better: 'lower' },
        { key: 'missed', label: 'missed slots', better: 'lower' },
        { key: 'cpu', label: 'CPU µs/run: worker processes + PostgreSQL + Redis', better: 'lower' },
        { key: 'cpuWorkers', label: '… of it the worker processes', better: 'lower' },
      ],
      crucible: subject('scheduled and run', () => fleet.full(slots), full),
      anchors: [subject('schedulers alone (queue paused)', () => fleet.schedulerAlone(slots), alone)],
    });
    const runs = full.reduce((sum, r) => sum + r.runs, 0);
    ctx.note(
      `${runs.toLocaleString('en-US')} runs over ${full.length * slots} slots of ${count.toLocaleString('en-US')} monitors ` +
        `(${Math.round((count / intervalSec) * 10) / 10} runs/s offered). Every monitor's slots fall on the same ` +
        'instants (aligned to the epoch), so each slot is a burst of every monitor at once: the skew is mostly the ' +
        'time the two workers take to work through the burst, not the scheduler (its claim skew is the anchor row).',
    );
    ctx.note(
      `The ${count.toLocaleString('en-US')} monitors were made by one POST /api/monitors/deploy (what \`crucible deploy\` ` +
        `sends) in ${deploySeconds.toFixed(1)} s.`,
    );
    ctx.note(
      'PostgreSQL and Redis serve the whole machine: whatever else runs meanwhile counts in their share. ' +
        "The workers' share is theirs alone, idle upkeep (heartbeats, reconciler, queue polls) included.",
    );
    ctx.note(
      'Duplicates are requests the target received beyond one per completed run (a run started twice would show); ' +
        'the unique (monitor_id, scheduled_for) keys make a second row for a slot impossible. "Schedulers alone" is the ' +
        "same two worker processes with the monitors' queue paused: their CPU per claimed run is the scheduler's cost.",
    );
  },
});
