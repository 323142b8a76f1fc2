import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { TestCatalog, verdictOf } from '@crucible/contracts';
import type { Judging, StressResult, ThresholdResult } from '@crucible/contracts';
import { Egress, parseAllowlist } from '@crucible/egress';
import { TestsRepository, UsersRepository, createDb, migrateToLatest } from '@crucible/db';
import { createTestDeployment } from '@crucible/backplane/testing';
import type { BackplaneMode } from '@crucible/backplane/testing';
import { createEngines } from '../src/engines/registry.js';
import { createTestWorker } from '../src/worker.js';

// abortOnFail thresholds (issue 26, k6's abortOnFail): a stress threshold marked to abort is judged
// on the live figures once a second (a sharded test's merged figures) and stops all the load.

function closer() {
  const steps: (() => Promise<unknown>)[] = [];
  onTestFinished(async () => {
    for (const step of steps.reverse()) await step();
  });
  return (step: () => Promise<unknown>) => steps.push(step);
}

/** A target that answers 200 to its first `okFor` requests and 500 after; it notes when. */
async function failingTarget(closeAfter: ReturnType<typeof closer>, okFor: number) {
  const seen = { requests: 0, firstFailureAt: 0, lastRequestAt: 0 };
  const server = createServer((_req, res) => {
    seen.requests++;
    seen.lastRequestAt = Date.now();
    if (seen.requests <= okFor) return res.end('ok');
    if (seen.firstFailureAt === 0) seen.firstFailureAt = Date.now();
    res.statusCode = 500;
    res.end('broken');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closeAfter(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, seen };
}

async function setup(mode: BackplaneMode) {
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
    engines: createEngines(new Egress({ allowlist: parseAllowlist('127.0.0.1') })),
    monitorScheduler: false,
  });
  closeAfter(() => worker.close());
  await worker.ready;

  async function submitStress(url: string, config: Record<string, unknown>, judging: Judging) {
    const testId = randomUUID();
    await tests.create({
      testId,
      testType: 'stress',
      testName: null,
      url,
      config,
      priority: 5,
      userId: user!.id,
      judging,
    });
    await backplane.queue.add(
      'stress',
      { testId, testType: 'stress', url, config, userId: user!.id, judging },
      { jobId: testId, attempts: TestCatalog.stress.attempts },
    );
    return testId;
  }
  return { tests, closeAfter, submitStress };
}

const ABORTING = 'errors.rate < 0.05';
const judging: Judging = {
  thresholds: ['latency.p95 < 60000', ABORTING],
  abortOnFail: [{ expression: ABORTING }],
};

describe.each([
  [1, 'embedded'],
  [2, 'embedded'],
  [2, 'distributed'],
] as const)('an abortOnFail threshold stops a stress test with %i shard(s) (%s)', (shards, mode) => {
  it('within 2 s of the breach, failed, naming the threshold', async () => {
    const { tests, closeAfter, submitStress } = await setup(mode);
    const target = await failingTarget(closeAfter, 300);
    const testId = await submitStress(
      target.url,
      { connections: 4, durationSec: 30, rate: 400, shards },
      judging,
    );
    await expect
      .poll(async () => (await tests.findById(testId))?.status, { timeout: 60_000, interval: 100 })
      .toBe('completed');
    const row = (await tests.findById(testId))!;
    const result = row.result as Omit<StressResult, 'thresholds'> & { thresholds: ThresholdResult[] };
    expect(result.aborted?.threshold).toBe(ABORTING);
    expect(result.aborted!.actual).toBeGreaterThanOrEqual(0.05);
    // Breached once the first 500s came back: at 400 req/s the 300 good ones last about 0.75 s.
    expect(result.aborted!.atSec).toBeLessThanOrEqual(3);
    // The load stopped (every shard) within 2 s of the second that breached was judged.
    const stoppedAfterMs = target.seen.lastRequestAt - target.seen.firstFailureAt;
    expect(stoppedAfterMs).toBeLessThan(1_000 + 2_000);
    const atStop = target.seen.requests;
    await sleep(1_000);
    expect(target.seen.requests).toBe(atStop);
    // A partial result, far short of the 30 s asked for, and failed on that threshold alone.
    expect(result.totals.durationSec).toBeLessThan(6);
    expect(result.totals.requests).toBeLessThanOrEqual(target.seen.requests);
    expect(result.totals.failed).toBeGreaterThan(0);
    expect(result.thresholds.map((t) => [t.expression, t.passed])).toEqual([
      ['latency.p95 < 60000', true],
      [ABORTING, false],
    ]);
    expect(result.passed).toBe(false);
    expect(verdictOf('stress', result)).toBe('failed');
    if (shards > 1) expect(result.shards!.map((s) => s.status)).toEqual(['completed', 'completed']);
  }, 90_000);
});

describe('an abortOnFail threshold that holds', () => {
  it('lets the test run to its end and pass', async () => {
    const { tests, closeAfter, submitStress } = await setup('embedded');
    const target = await failingTarget(closeAfter, Number.POSITIVE_INFINITY);
    const testId = await submitStress(
      target.url,
      { connections: 2, durationSec: 2, rate: 100, shards: 2 },
      judging,
    );
    await expect
      .poll(async () => (await tests.findById(testId))?.status, { timeout: 60_000, interval: 100 })
      .toBe('completed');
    const result = (await tests.findById(testId))!.result as StressResult;
    expect(result.aborted).toBeUndefined();
    expect(result.series.map((p) => p.second)).toEqual([1, 2]);
    expect(verdictOf('stress', result)).toBe('passed');
  }, 90_000);
});
