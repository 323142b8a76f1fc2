import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestCatalog, channelTopic } from '@crucible/contracts';
import type { Envelope } from '@crucible/contracts';
import { Egress, parseAllowlist } from '@crucible/egress';
import { TestsRepository, UsersRepository, createDb, migrateToLatest } from '@crucible/db';
import type { Db } from '@crucible/db';
import { createEngines } from '../src/engines/registry.js';
import type { Backplane, TestQueues } from '@crucible/backplane';
import { BACKPLANE_MODES, createTestDeployment } from '@crucible/backplane/testing';
import type { BackplaneMode } from '@crucible/backplane/testing';
import { createTestWorker } from '../src/worker.js';
import type { TestWorker, TestWorkerDeps } from '../src/worker.js';
import type { Engine } from '../src/engines/engine.js';

const BODY = '<!doctype html><title>fixture</title>';

interface Harness {
  db: Db;
  tests: TestsRepository;
  userId: string;
  queue: TestQueues;
  testWorker: TestWorker;
  /** Every message of both channels of the test, in arrival order. */
  received: Envelope<Record<string, unknown>>[];
  subscribe(testId: string): Promise<void>;
  until(event: string): Promise<void>;
  close(): Promise<void>;
}

const servers: Server[] = [];
let harness: Harness;

async function listen(): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(BODY);
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

async function closedPortUrl(): Promise<string> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/`;
}

/** The database and backplane of one mode, and how to remove every trace of them. */
interface Services {
  db: Db;
  backplane: Backplane;
  close(): Promise<void>;
}

/** The suite runs against both modes: Redis + PostgreSQL, and embedded (PGlite, BullMQ on it, in-process bus). */
async function createServices(mode: BackplaneMode): Promise<Services> {
  const deployment = await createTestDeployment({ mode });
  const db = createDb(deployment.databaseUrl, { max: 4 });
  return {
    db,
    backplane: await deployment.backplane(),
    async close() {
      await db.close();
      await deployment.close();
    },
  };
}

async function createHarness(mode: BackplaneMode, options: Partial<TestWorkerDeps> = {}): Promise<Harness> {
  const services = await createServices(mode);
  const { db, backplane } = services;
  await migrateToLatest(db.kysely);
  const user = await new UsersRepository(db.kysely).create(`${randomUUID()}@example.test`, 'not-a-real-hash');
  const testWorker = createTestWorker({
    db,
    backplane,
    concurrency: 2,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    // The targets are local fixture servers on 127.0.0.1: open exactly that to the guard.
    engines: createEngines(new Egress({ allowlist: parseAllowlist('127.0.0.1') })),
    ...options,
  });
  const received: Envelope<Record<string, unknown>>[] = [];
  const waiters: { event: string; resolve(): void }[] = [];
  const onMessage = (raw: string) => {
    const message = JSON.parse(raw) as Envelope<Record<string, unknown>>;
    received.push(message);
    for (const w of waiters.filter((w) => w.event === message.event)) w.resolve();
  };

  return {
    db,
    tests: new TestsRepository(db.kysely),
    userId: user!.id,
    queue: backplane.queue,
    testWorker,
    received,
    async subscribe(testId) {
      await backplane.pubsub.subscribe(channelTopic(`test-progress-${testId}`), onMessage);
      await backplane.pubsub.subscribe(channelTopic(`job-status-${testId}`), onMessage);
    },
    until(event) {
      if (received.some((m) => m.event === event)) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ event, resolve }));
    },
    async close() {
      await testWorker.close();
      await services.close();
    },
  };
}

async function submit(
  h: Harness,
  url: string,
  config: Record<string, unknown>,
  testId: string = randomUUID(),
): Promise<string> {
  await h.tests.create({
    testId,
    testType: 'performance',
    testName: null,
    url,
    config,
    priority: 5,
    userId: h.userId,
  });
  await h.subscribe(testId);
  await h.queue.add(
    'performance',
    { testId, testType: 'performance', url, config, userId: h.userId },
    { jobId: testId, attempts: TestCatalog.performance.attempts, backoff: { type: 'fixed', delay: 100 } },
  );
  return testId;
}

function on(h: Harness, channel: string) {
  return h.received.filter((m) => m.channel === channel);
}

describe.each(BACKPLANE_MODES)('test worker (%s)', (mode) => {
  beforeEach(async () => {
    harness = await createHarness(mode);
  });

  afterEach(async () => {
    await harness.close();
    await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });

  it('runs a performance test, stores its result and publishes every step in order', async () => {
    const url = await listen();
    const testId = await submit(harness, url, { iterations: 3 });

    await harness.until('test:completed');
    await harness.until('queue:job:completed');

    const row = await harness.tests.findById(testId);
    expect(row?.status).toBe('completed');
    expect(row?.progress).toBe(100);
    expect(row?.error_message).toBeNull();
    expect(row?.started_at).toBeInstanceOf(Date);
    expect(row?.completed_at).toBeInstanceOf(Date);
    const result = row?.result as { url: string; requests: unknown; statusCodes: unknown; bytes: number };
    expect(result.url).toBe(url);
    expect(result.requests).toEqual({ total: 3, succeeded: 3, failed: 0 });
    expect(result.statusCodes).toEqual({ '200': 3 });
    expect(result.bytes).toBe(Buffer.byteLength(BODY));

    const progress = on(harness, `test-progress-${testId}`);
    expect(progress.map((m) => m.event)).toEqual([
      'test:started',
      'test:progress',
      'test:progress',
      'test:progress',
      'test:completed',
    ]);
    expect(progress.map((m) => m.offset)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(progress.map((m) => m.epoch)).size).toBe(1);
    expect(progress.every((m) => m.userId === harness.userId)).toBe(true);
    expect(progress.slice(1, 4).map((m) => m.data.progress)).toEqual([33, 67, 99]);
    expect(progress.map((m) => m.priority)).toEqual([2, 3, 3, 3, 2]);
    expect(progress[4]!.data).toMatchObject({ testId, status: 'completed', progress: 100 });
    expect(Object.keys(progress[4]!.data.summary as object).sort()).toEqual([
      'connect',
      'dns',
      'download',
      'tls',
      'total',
      'ttfb',
    ]);

    const jobStatus = on(harness, `job-status-${testId}`);
    expect(jobStatus.map((m) => m.event)).toEqual([
      'queue:job:started',
      'queue:job:progress',
      'queue:job:progress',
      'queue:job:progress',
      'queue:job:completed',
    ]);
    expect(jobStatus.map((m) => m.offset)).toEqual([1, 2, 3, 4, 5]);
  });

  it('fails a test whose target refuses connections, once, without retrying', async () => {
    const url = await closedPortUrl();
    const failed = once(harness.testWorker.consumers.get('tests')!, 'failed');
    const testId = await submit(harness, url, { iterations: 2 });

    await failed;
    await harness.until('queue:job:failed');

    const row = await harness.tests.findById(testId);
    expect(row?.status).toBe('failed');
    expect(row?.result).toBeNull();
    expect(row?.completed_at).toBeInstanceOf(Date);
    const port = new URL(url).port;
    expect(row?.error_message).toBe(
      `all 2 requests to http://127.0.0.1:${port}/ failed; first error: connect ECONNREFUSED 127.0.0.1:${port}`,
    );

    const job = await harness.queue.getJob(testId);
    expect(await job?.getState()).toBe('failed');
    expect(job?.attemptsMade).toBe(1);

    const progress = on(harness, `test-progress-${testId}`);
    expect(progress.map((m) => m.event)).toEqual([
      'test:started',
      'test:progress',
      'test:progress',
      'test:failed',
    ]);
    expect(progress.map((m) => m.offset)).toEqual([1, 2, 3, 4]);
    expect(progress[3]!.data).toEqual({ testId, status: 'failed', error: row?.error_message });
  });

  it('fails a test with an invalid config without running it', async () => {
    const url = await listen();
    const failed = once(harness.testWorker.consumers.get('tests')!, 'failed');
    const testId = await submit(harness, url, { iterations: 0 });

    await failed;
    await harness.until('test:failed');

    const row = await harness.tests.findById(testId);
    expect(row?.status).toBe('failed');
    expect(row?.error_message).toBe('config.iterations: Expected integer to be greater or equal to 1');
    expect((await harness.queue.getJob(testId))?.attemptsMade).toBe(1);
    expect(on(harness, `test-progress-${testId}`).map((m) => m.event)).toEqual([
      'test:started',
      'test:failed',
    ]);
  });

  it('skips a job whose test was cancelled before it started', async () => {
    const url = await listen();
    const testId = randomUUID();
    await harness.tests.create({
      testId,
      testType: 'performance',
      testName: null,
      url,
      config: {},
      priority: 5,
      userId: harness.userId,
    });
    const { workspace_id: workspaceId } = (await harness.tests.findById(testId))!;
    await harness.tests.cancel(testId, { id: harness.userId, role: 'user', workspaceId: workspaceId! });
    await harness.subscribe(testId);
    const completed = once(harness.testWorker.consumers.get('tests')!, 'completed');
    await harness.queue.add(
      'performance',
      { testId, testType: 'performance', url, config: {}, userId: harness.userId },
      {
        jobId: testId,
      },
    );

    const [, outcome] = (await completed) as [unknown, unknown];

    expect(outcome).toEqual({ testId, status: 'skipped' });
    expect((await harness.tests.findById(testId))?.status).toBe('cancelled');
    expect(harness.received).toEqual([]);
  });
});

describe.each(BACKPLANE_MODES)('progress of a test (%s)', (mode) => {
  afterEach(async () => {
    await harness.close();
  });

  it('stores it at most once an interval, the latest report once the interval is up, and sends every report live', async () => {
    // The interval's clock is the test's; only the background write waits for real time.
    let clock = 0;
    const stored: number[] = [];
    const read = async (testId: string) => (await harness.tests.findById(testId))!.progress;
    const engine: Engine = async (url, _config, ctx) => {
      const testId = new URL(url).searchParams.get('id')!;
      await ctx.progress(10, 'one');
      stored.push(await read(testId));
      await ctx.progress(20, 'two');
      stored.push(await read(testId));
      // Nothing else reported: the latest report is stored once the interval is up.
      await expect.poll(() => read(testId), { timeout: 10_000 }).toBe(20);
      clock += 1_000;
      // Due again: written before it goes out.
      await ctx.progress(30, 'three');
      stored.push(await read(testId));
      // Too soon again, and the test ends first: its result is what is stored.
      await ctx.progress(40, 'four');
      stored.push(await read(testId));
      return { summary: { ok: true } };
    };
    harness = await createHarness(mode, {
      engines: { performance: engine },
      progressWriteIntervalMs: 1_000,
      now: () => clock,
    });
    const testId = randomUUID();
    await submit(harness, `http://127.0.0.1:9/?id=${testId}`, {}, testId);
    await harness.until('test:completed');

    expect(stored).toEqual([0, 0, 30, 30]);
    expect((await harness.tests.findById(testId))?.progress).toBe(100);
    const progress = on(harness, `test-progress-${testId}`);
    expect(progress.map((m) => m.event)).toEqual([
      'test:started',
      'test:progress',
      'test:progress',
      'test:progress',
      'test:progress',
      'test:completed',
    ]);
    expect(progress.slice(1, 5).map((m) => m.data.progress)).toEqual([10, 20, 30, 40]);
    expect(on(harness, `job-status-${testId}`).map((m) => m.data.progress ?? null)).toEqual([
      null,
      10,
      20,
      30,
      40,
      null,
    ]);
  });

  it('writes every report when the interval is 0', async () => {
    const stored: number[] = [];
    const engine: Engine = async (url, _config, ctx) => {
      const testId = new URL(url).searchParams.get('id')!;
      for (const pct of [25, 50]) {
        await ctx.progress(pct, 'step');
        stored.push((await harness.tests.findById(testId))!.progress);
      }
      return { summary: {} };
    };
    harness = await createHarness(mode, { engines: { performance: engine }, progressWriteIntervalMs: 0 });
    const testId = randomUUID();
    await submit(harness, `http://127.0.0.1:9/?id=${testId}`, {}, testId);
    await harness.until('test:completed');
    expect(stored).toEqual([25, 50]);
  });
});
