import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetricsRegistry, registerHealthRoutes } from '../src/index.js';

const apps: ReturnType<typeof Fastify>[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

/** The value of the first series in Prometheus text whose line starts with `prefix`. */
function sample(text: string, prefix: string): number {
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  if (!line) throw new Error(`no ${prefix} in\n${text}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('event-loop delay metrics', () => {
  it('records a loop held by a blocking call, and keeps it across scrapes', async () => {
    const app = Fastify();
    apps.push(app);
    await registerHealthRoutes(app, { checks: {}, registry: createMetricsRegistry('metrics-test') });

    // Once the monitor's timer runs (the next turn of the loop), blocks the loop for 300 ms: the
    // delay it records can only be longer.
    await sleep(50);
    const until = performance.now() + 300;
    while (performance.now() < until);
    await sleep(1_100);

    const first = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(sample(first, 'crucible_event_loop_delay_max_seconds{')).toBeGreaterThanOrEqual(0.3);
    expect(sample(first, 'crucible_event_loop_delay_seconds_bucket{le="0.25"')).toBeLessThan(
      sample(first, 'crucible_event_loop_delay_seconds_count{'),
    );
    const second = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(sample(second, 'crucible_event_loop_delay_max_seconds{')).toBeGreaterThanOrEqual(0.3);
  });
});
