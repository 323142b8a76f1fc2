import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CANCEL_TOPIC, testJobData, testJobOptions } from '@crucible/contracts';
import type { TestType } from '@crucible/contracts';
import { TestsRepository, UsersRepository, createDb, migrateToLatest } from '@crucible/db';
import type { Db } from '@crucible/db';
import type { Backplane } from '@crucible/backplane';
import { BACKPLANE_MODES, createTestDeployment } from '@crucible/backplane/testing';
import type { TestDeployment } from '@crucible/backplane/testing';
import type { Engine, EngineRegistry } from '../src/engines/engine.js';
import { createTestWorker } from '../src/worker.js';
import type { TestWorker } from '../src/worker.js';

// Browser tests have their own queue: an ordinary worker (`WORKER_QUEUES=tests`) never runs one,
// a browser worker (`WORKER_QUEUES=browser`) runs them BROWSER_CONCURRENCY at a time, and neither
// takes the other's slots. The engines are stand-ins that record where they ran: which process
// runs a test is the point here, not Chromium (the browser project drives the real one).

/** A test held until released, recording which worker ran it and how many ran at once. */
function heldEngines(ranOn: string) {
  const ran: { type: TestType; worker: string }[] = [];
  const releases: (() => void)[] = [];
  let running = 0;
  let peak = 0;
  const held =
    (type: TestType): Engine =>
    async (_url, _config, ctx) => {
      ran.push({ type, worker: ranOn });
      running += 1;
      peak = Math.max(peak, running);
      try {
        await new Promise<void>((resolve, reject) => {
          releases.push(resolve);
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
        });
      } finally {
        running -= 1;
      }
      return type === 'browser' ? browserResult() : { summary: {} };
    };
  const engines: EngineRegistry = { browser: held('browser'), performance: held('performance') };
  return { engines, ran, releases, peak: () => peak, running: () => running };
}

/** The smallest result a browser test stores. */
function browserResult() {
  const vitals = { lcp: 1000, fcp: 500, cls: 0, tbt: 0, ttfb: 10, speedIndex: 600 };
  const scores = { performance: 90, accessibility: null, bestPractices: null, seo: null };
  return {
    summary: { vitals, scores },
    url: 'http://127.0.0.1/',
    device: 'mobile',
    throttling: 'none',
    lighthouseVersion: '12.2.3',
    vitals,
    scores,
    runs: [{ run: 1, vitals, scores, error: null }],
    medianRun: 1,
    failingAudits: [],
    refusedRequests: [],
    artifacts: [],
  };
}

describe.each(BACKPLANE_MODES)('the browser queue (%s)', (mode) => {
  let deployment: TestDeployment;
  let backplane: Backplane;
  let db: Db;
  let tests: TestsRepository;
  let userId: string;
  const workers: TestWorker[] = [];

  beforeEach(async () => {
    deployment = await createTestDeployment({ mode });
    db = createDb(deployment.databaseUrl, { max: 6 });
    await migrateToLatest(db.kysely);
    backplane = await deployment.backplane();
    tests = new TestsRepository(db.kysely);
    userId = (await new UsersRepository(db.kysely).create(`${randomUUID()}@example.test`, 'x'))!.id;
  });
  afterEach(async () => {
    for (const w of workers.splice(0)) await w.close();
    await db.close();
    await deployment.close();
  });

  function start(queues: ('tests' | 'browser')[], engines: EngineRegistry): TestWorker {
    const worker = createTestWorker({
      db,
      backplane,
      queues,
      concurrency: 2,
      browserConcurrency: 1,
      engines,
      logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      drainTimeoutMs: 0,
    });
    workers.push(worker);
    return worker;
  }

  /** A queued row, as the api writes it. */
  async function submit(testType: TestType): Promise<string> {
    const testId = randomUUID();
    const config = testType === 'browser' ? { runs: 1 } : { iterations: 1 };
    const row = await tests.create({
      testId,
      testType,
      testName: null,
      url: 'http://127.0.0.1:9/',
      config,
      priority: 5,
      userId,
    });
    expect(row).toBeDefined();
    // No job added here: the dispatchers of the workers release each row into its type's queue.
    return testId;
  }

  const status = async (testId: string) => (await tests.findById(testId))?.status;

  it('an ordinary worker leaves browser tests to a browser worker, which runs them one at a time beside light tests', async () => {
    const light = heldEngines('light');
    const heavy = heldEngines('browser');
    await start(['tests'], light.engines).ready;
    const first = await submit('browser');
    const second = await submit('browser');
    const light1 = await submit('performance');
    await expect.poll(() => light.ran.length, { timeout: 20_000 }).toBe(1);
    expect(light.ran).toEqual([{ type: 'performance', worker: 'light' }]);
    expect([await status(first), await status(second)]).toEqual(['queued', 'queued']);

    await start(['browser'], heavy.engines).ready;
    await expect.poll(() => heavy.ran.length, { timeout: 20_000 }).toBe(1);
    // The light test still holds its slot while the browser test runs on the browser worker.
    expect(light.running()).toBe(1);
    heavy.releases.shift()!();
    await expect.poll(() => heavy.ran.length, { timeout: 20_000 }).toBe(2);
    heavy.releases.shift()!();
    light.releases.shift()!();
    await expect
      .poll(async () => [await status(first), await status(second), await status(light1)], {
        timeout: 20_000,
      })
      .toEqual(['completed', 'completed', 'completed']);
    expect(heavy.peak()).toBe(1);
    expect(heavy.ran.map((r) => r.type)).toEqual(['browser', 'browser']);
  });

  it('a browser job found in the ordinary queue (an older api put it there) is moved to its own, not run', async () => {
    const light = heldEngines('light');
    const heavy = heldEngines('browser');
    const testId = randomUUID();
    const row = await tests.create({
      testId,
      testType: 'browser',
      testName: null,
      url: 'http://127.0.0.1:9/',
      config: { runs: 1 },
      priority: 5,
      userId,
    });
    await backplane.queue
      .named('tests')
      .add('browser', testJobData({ ...row, run: 0 }), testJobOptions('browser', testId, 0, 5));
    await start(['tests'], light.engines).ready;
    await expect
      .poll(() => backplane.queue.named('browser').getJobState(testId), { timeout: 20_000 })
      .not.toBe('unknown');
    expect(light.ran).toEqual([]);
    await start(['browser'], heavy.engines).ready;
    await expect.poll(() => heavy.ran.length, { timeout: 20_000 }).toBe(1);
    heavy.releases.shift()!();
    await expect.poll(() => status(testId), { timeout: 20_000 }).toBe('completed');
  });

  it('a cancel reaches the browser worker running the test', async () => {
    const heavy = heldEngines('browser');
    await start(['browser'], heavy.engines).ready;
    const testId = await submit('browser');
    await expect.poll(() => heavy.running(), { timeout: 20_000 }).toBe(1);
    // What the api does: the row first, then the broadcast.
    await tests.cancel(testId, { role: 'admin', workspaceId: '' } as Parameters<
      TestsRepository['cancel']
    >[1]);
    await backplane.pubsub.publish(CANCEL_TOPIC, JSON.stringify({ testId, jobId: testId }));
    await expect.poll(() => heavy.running(), { timeout: 20_000 }).toBe(0);
    await expect.poll(() => backplane.queue.getJobState(testId), { timeout: 20_000 }).toBe('failed');
    expect(await status(testId)).toBe('cancelled');
  });
});
