import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CANCEL_TOPIC, Channels, TestCatalog, channelName } from '@crucible/contracts';
import type { StressResult } from '@crucible/contracts';
import { Egress, parseAllowlist } from '@crucible/egress';
import { TestsRepository, UsersRepository, createDb, migrateToLatest } from '@crucible/db';
import { BACKPLANE_MODES, createTestDeployment } from '@crucible/backplane/testing';
import type { BackplaneMode } from '@crucible/backplane/testing';
import { createEngines } from '../src/engines/registry.js';
import { DEFAULT_STRESS_LIMITS } from '../src/engines/stress.engine.js';
import { createTestWorker } from '../src/worker.js';

/** What a test opened, closed after it in the reverse order. */
function closer() {
  const steps: (() => Promise<unknown>)[] = [];
  onTestFinished(async () => {
    for (const step of steps.reverse()) await step();
  });
  return (step: () => Promise<unknown>) => steps.push(step);
}

/** A keep-alive target that counts the requests it answered. */
async function countingTarget(closeAfter: ReturnType<typeof closer>) {
  const counts = { requests: 0 };
  const server = createServer((_req, res) => {
    counts.requests++;
    res.end('ok');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closeAfter(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, counts };
}

/** A deployment of `mode` with one worker process (the embedded backend's one process). */
async function setup(
  mode: BackplaneMode,
  options: { shardConcurrency?: number; shardStartTimeoutMs?: number } = {},
) {
  const closeAfter = closer();
  const deployment = await createTestDeployment({ mode });
  closeAfter(() => deployment.close());
  const db = createDb(deployment.databaseUrl, { max: 6 });
  closeAfter(() => db.close());
  const backplane = await deployment.backplane();
  await migrateToLatest(db.kysely);
  const tests = new TestsRepository(db.kysely);
  const user = await new UsersRepository(db.kysely).create(`${randomUUID()}@example.test`, 'not-a-real-hash');
  const worker = createTestWorker({
    db,
    backplane,
    concurrency: 2,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    engines: createEngines(new Egress({ allowlist: parseAllowlist('127.0.0.1') }), {
      stressLimits: { ...DEFAULT_STRESS_LIMITS, shardStartTimeoutMs: options.shardStartTimeoutMs },
    }),
    monitorScheduler: false,
    shardConcurrency: options.shardConcurrency,
  });
  closeAfter(() => worker.close());
  await worker.ready;

  /** A stress test queued as the dispatcher would release it; its id. */
  async function submitStress(url: string, config: Record<string, unknown>) {
    const testId = randomUUID();
    await tests.create({
      testId,
      testType: 'stress',
      testName: null,
      url,
      config,
      priority: 5,
      userId: user!.id,
    });
    await backplane.queue.add(
      'stress',
      { testId, testType: 'stress', url, config, userId: user!.id },
      { jobId: testId, attempts: TestCatalog.stress.attempts },
    );
    return testId;
  }

  /** The live points the test published on its `stress-test-{testId}` channel, in order. */
  async function livePoints(testId: string) {
    const channel = channelName(Channels.STRESS_TEST, { testId });
    const { messages } = await backplane.eventLog.recover(channel, 0);
    return messages.map((m) => m.data as { second: number; requests: number; rps: number; p95: number });
  }
  return { backplane, tests, closeAfter, submitStress, livePoints };
}

describe.each(BACKPLANE_MODES)('sharded stress tests in one worker process (%s)', (mode) => {
  it('runs every shard here and merges them into one result with per-shard totals', async () => {
    const { tests, closeAfter, submitStress, livePoints } = await setup(mode);
    const target = await countingTarget(closeAfter);
    const testId = await submitStress(target.url, { connections: 8, durationSec: 3, shards: 4 });
    await expect
      .poll(async () => (await tests.findById(testId))?.status, { timeout: 60_000, interval: 200 })
      .toBe('completed');
    const result = (await tests.findById(testId))!.result as StressResult;
    // Every request the target answered is counted once, whichever shard sent it.
    expect(result.totals.requests).toBe(target.counts.requests);
    expect(result.totals.requests).toBeGreaterThan(0);
    expect(result.limits.connections).toBe(8);
    expect(result.series.map((p) => p.second)).toEqual([1, 2, 3]);
    expect(result.shards!.map((s) => [s.shard, s.try, s.status, s.connections])).toEqual([
      [1, 1, 'completed', 2],
      [2, 1, 'completed', 2],
      [3, 1, 'completed', 2],
      [4, 1, 'completed', 2],
    ]);
    expect(result.shards!.reduce((n, s) => n + s.requests, 0)).toBe(result.totals.requests);
    expect(result.lostShards).toEqual([]);
    expect(result.series.reduce((n, p) => n + p.requests, 0)).toBeLessThanOrEqual(result.totals.requests);
    // One live point per second, each the merged second of the result.
    const live = await livePoints(testId);
    expect(live.map((p) => [p.second, p.requests, p.p95])).toEqual(
      result.series.map((p) => [p.second, p.requests, p.p95]),
    );
  }, 90_000);

  it('stops every shard within a second of a cancel', async () => {
    const { backplane, tests, closeAfter, submitStress } = await setup(mode);
    const target = await countingTarget(closeAfter);
    const testId = await submitStress(target.url, { connections: 4, durationSec: 60, shards: 2 });
    await expect.poll(() => target.counts.requests, { timeout: 60_000, interval: 100 }).toBeGreaterThan(50);
    await tests.cancel(testId, { id: 'admin', role: 'admin', workspaceId: '' });
    await backplane.pubsub.publish(CANCEL_TOPIC, JSON.stringify({ testId, jobId: testId }));
    await sleep(1_000);
    const atOneSecond = target.counts.requests;
    await sleep(1_500);
    expect(target.counts.requests).toBe(atOneSecond);
    expect((await tests.findById(testId))?.status).toBe('cancelled');
  }, 90_000);

  it('fails at the start deadline, saying how many shards found a worker, and stops the one that did', async () => {
    // One shard at a time here and no other worker: the second shard never starts.
    const { tests, closeAfter, submitStress } = await setup(mode, {
      shardConcurrency: 1,
      shardStartTimeoutMs: 2_000,
    });
    const target = await countingTarget(closeAfter);
    const testId = await submitStress(target.url, { connections: 4, durationSec: 5, shards: 2 });
    await expect
      .poll(async () => (await tests.findById(testId))?.status, { timeout: 60_000, interval: 200 })
      .toBe('failed');
    expect((await tests.findById(testId))?.error_message).toBe(
      'only 1 of 2 shards found a worker within 2 s; the test did not start (scale the workers or ask for fewer shards)',
    );
    // Nothing was sent: the shard that was ready never started its load.
    expect(target.counts.requests).toBe(0);
  }, 90_000);
});
