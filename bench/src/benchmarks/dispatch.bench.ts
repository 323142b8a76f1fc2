import { defineBenchmark } from '../harness.js';
import type { Metric } from '../harness.js';
import { BullmqDispatch, CrucibleDispatch } from '../lib/dispatch.js';
import { NaiveDispatch } from '../lib/naive-dispatch.js';
import { startCrucible } from '../lib/stack.js';
import { startTarget } from '../lib/target.js';

export const LATENCY_METRICS: Metric[] = [
  { key: 'started_p50', label: 'submit→test:started p50 ms', better: 'lower' },
  { key: 'started_p99', label: 'submit→test:started p99 ms', better: 'lower' },
  { key: 'completed_p50', label: 'submit→test:completed p50 ms', better: 'lower' },
  { key: 'completed_p99', label: 'submit→test:completed p99 ms', better: 'lower' },
];
export const DRAIN_METRICS: Metric[] = [
  { key: 'rate', label: 'tests/s', better: 'higher' },
  // Where the machine's CPU goes per test: on 2 shared cores this is what caps tests/s.
  { key: 'cpu', label: 'CPU µs/test: worker + PostgreSQL + Redis', better: 'lower' },
  { key: 'cpuWorker', label: '… of it the worker process', better: 'lower' },
  { key: 'cpuPg', label: '… PostgreSQL', better: 'lower' },
  { key: 'cpuRedis', label: '… Redis', better: 'lower' },
];
export const BULLMQ_LATENCY = 'BullMQ add→completed (no-op)';
export const BULLMQ_DRAIN = 'BullMQ no-op drain';
export const NAIVE_DRAIN = 'BullMQ + undici + pg, naive';

export default defineBenchmark({
  name: 'dispatch',
  description:
    'submit→test:started/completed latency at a steady rate, and backlog drain per worker process, beside bare BullMQ',
  order: 2,
  async run(ctx) {
    const rate = 200;
    const count = ctx.size(400, 20);
    const lightRate = 25;
    const lightCount = ctx.size(100, 5);
    const backlog = ctx.size(10_000, 20);
    const { url: targetUrl } = await startTarget(ctx);
    const stack = await startCrucible(ctx);
    const crucible = await CrucibleDispatch.create(ctx, stack, targetUrl);
    const bullmq = await BullmqDispatch.create(ctx, stack.redisUrl, `${stack.prefix}:anchor`);
    const naive = await NaiveDispatch.create(ctx, stack, targetUrl);

    let workers = await stack.startWorkers(1, 5);
    let anchorWorker = await bullmq.startWorker(5);
    const target = {
      anchor: BULLMQ_LATENCY,
      metric: 'completed_p99',
      text: 'extra p99 ≤ 15 ms',
      met: (c: number, a: number) => c - a <= 15,
    };
    // The rate, then a light one: at 200/s one worker runs near saturation here, so the
    // second shows what dispatch itself costs when nothing waits in the queue.
    for (const [perSecond, tests] of [
      [rate, count],
      [lightRate, lightCount],
    ] as const) {
      await ctx.compare({
        title: `${tests} trivial tests (performance, 1 iteration, local target) at ${perSecond}/s, 1 worker process, concurrency 5`,
        metrics: LATENCY_METRICS,
        crucible: { label: 'Crucible', run: async () => ({ ...(await crucible.latency(perSecond, tests)) }) },
        anchors: [
          { label: BULLMQ_LATENCY, run: async () => ({ ...(await bullmq.latency(perSecond, tests)) }) },
        ],
        targets: [target],
      });
    }

    const drainRates = new Map<number, number>();
    for (const concurrency of [5, 50]) {
      if (concurrency !== 5) {
        await stack.stopWorkers(workers);
        await anchorWorker.stop();
        workers = await stack.startWorkers(1, concurrency);
        anchorWorker = await bullmq.startWorker(concurrency);
      }
      // The same work done naively, at the same concurrency; stopped after, so that it never
      // takes a core from the other subjects' rounds while idle-polling.
      const naiveWorker = await naive.startWorker(concurrency);
      // A small drain warms both up and sizes Crucible's backlog to about five seconds of work: at
      // this machine's rates 10,000 tests would take minutes a round, past the 10-minute budget.
      const { rate: warmRate } = await crucible.drain(ctx.size(200, 10));
      await bullmq.drain(ctx.size(1_000, 10));
      await naive.drain(ctx.size(200, 10));
      const crucibleBacklog = ctx.smoke ? 20 : Math.min(backlog, Math.max(500, Math.round(warmRate * 5)));
      const result = await ctx.compare({
        warmup: false,
        title:
          `drain a backlog (Crucible ${crucibleBacklog.toLocaleString('en-US')} trivial tests, ` +
          `BullMQ ${backlog.toLocaleString('en-US')} no-op jobs, the naive worker as many tests as Crucible), ` +
          `1 worker process, concurrency ${concurrency}`,
        metrics: DRAIN_METRICS,
        crucible: {
          label: `Crucible worker ×${concurrency}`,
          run: async () => ({
            ...(await crucible.drain(
              crucibleBacklog,
              workers.map((w) => w.child.pid!),
            )),
          }),
        },
        anchors: [
          {
            label: BULLMQ_DRAIN,
            run: async () => ({ ...(await bullmq.drain(backlog, [anchorWorker.child.pid!])) }),
          },
          {
            label: NAIVE_DRAIN,
            run: async () => ({ ...(await naive.drain(crucibleBacklog, [naiveWorker.child.pid!])) }),
          },
        ],
        targets: [
          { anchor: BULLMQ_DRAIN, metric: 'rate', text: '≥ 25 % of BullMQ', met: (c, a) => c >= 0.25 * a },
          { anchor: NAIVE_DRAIN, metric: 'rate', text: '≥ 0.8× naive', met: (c, a) => c >= 0.8 * a },
          { anchor: NAIVE_DRAIN, metric: 'cpu', text: '≤ 1.3× naive', met: (c, a) => c <= 1.3 * a },
        ],
      });
      await naiveWorker.stop();
      drainRates.set(concurrency, result.rows[0]!.crucible.median);
    }
    const capacity = drainRates.get(5)!;
    ctx.note(
      `One worker process at concurrency 5 drains ${Math.round(capacity)} tests/s here against ${rate}/s offered ` +
        `(${Math.round((100 * rate) / capacity)} % busy): near or past 100 % the latency above is mostly time ` +
        'spent waiting in the queue, not dispatch.',
    );
    ctx.note(
      'Latency is measured from just before the HTTP submit to the event on Redis pub/sub (what the gateway relays); ' +
        'the anchor from just before Queue.add to QueueEvents `completed`.',
    );
  },
});
