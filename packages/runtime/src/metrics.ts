import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import { Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The process's Prometheus registry, served at `/metrics`: plugins add their own figures to it
     * (`new Counter({ name, help, registers: [app.metrics] })`).
     */
    metrics: Registry;
  }
}

/** Seconds; from a cached read to a slow dependency. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** `http_request_duration_seconds{method, route, status_code}` for every request the app answers. */
export function registerHttpMetrics(app: FastifyInstance, registry: Registry): void {
  const histogram = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route template',
    labelNames: ['method', 'route', 'status_code'],
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    // The route template, never the raw URL: ids in paths would make a series per request.
    const route = request.routeOptions.url ?? 'unmatched';
    histogram.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
}

/** Seconds; from a healthy loop (a few ms) to one held by a blocking call for minutes. */
const EVENT_LOOP_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * `crucible_event_loop_delay_seconds`, a histogram of the worst event-loop delay of each second
 * (`perf_hooks.monitorEventLoopDelay`, sampled every 10 ms), and
 * `crucible_event_loop_delay_max_seconds`, the worst since the app started. Unlike prom-client's
 * `nodejs_eventloop_lag_*` gauges, which each scrape resets, nothing is lost between scrapes or
 * to a second scraper: a loop blocked for 70 s is one observation of 70 s. Stops when `app` closes.
 */
export function registerEventLoopMetrics(app: FastifyInstance, registry: Registry): void {
  const monitor = monitorEventLoopDelay({ resolution: 10 });
  monitor.enable();
  const delay = new Histogram({
    name: 'crucible_event_loop_delay_seconds',
    help: 'Worst event-loop delay of each second',
    buckets: EVENT_LOOP_BUCKETS,
    registers: [registry],
  });
  const worst = new Gauge({
    name: 'crucible_event_loop_delay_max_seconds',
    help: 'Worst event-loop delay since the app started',
    registers: [registry],
  });
  worst.set(0);
  let max = 0;
  const sample = setInterval(() => {
    // The monitor's max includes the sampling resolution itself; an idle loop reads ~10 ms.
    const seconds = monitor.max / 1e9;
    monitor.reset();
    delay.observe(seconds);
    if (seconds > max) {
      max = seconds;
      worst.set(max);
    }
  }, 1_000);
  sample.unref();
  app.addHook('onClose', async () => {
    clearInterval(sample);
    monitor.disable();
  });
}

/** What {@link registerQueueMetrics} needs of a BullMQ `Queue`. */
export interface CountableQueue {
  readonly name: string;
  getJobCounts(): Promise<Record<string, number>>;
}

/**
 * `crucible_queue_jobs{queue, state}`: jobs per BullMQ state (wait, prioritized, active, delayed,
 * completed, failed, …) of each test queue, read from Redis at each scrape. Worker autoscaling is
 * driven by wait + prioritized of its queue (BullMQ keeps jobs that have a priority in
 * `prioritized`, not in `wait`): ordinary workers on `tests`, browser workers on `browser`.
 */
export function registerQueueMetrics(registry: Registry, queues: readonly CountableQueue[]): void {
  new Gauge({
    name: 'crucible_queue_jobs',
    help: 'Jobs in the queue by state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      // Redis down: the series disappear (absent, not zero) rather than failing the whole scrape.
      const all = await Promise.all(queues.map((queue) => queue.getJobCounts().catch(() => undefined)));
      all.forEach((counts, i) => {
        if (!counts) return;
        for (const [state, n] of Object.entries(counts)) this.set({ queue: queues[i]!.name, state }, n);
      });
    },
  });
}
