import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Events, channelTopic, createMessage } from '@crucible/contracts';
import type { TestJobData } from '@crucible/contracts';
import type { Backplane, TestQueueWorker } from '../src/index.js';
import { BACKPLANE_MODES, createTestDeployment } from '../src/testing.js';
import type { TestDeployment } from '../src/testing.js';

const job = (n: number): TestJobData => ({
  testId: randomUUID(),
  testType: 'performance',
  url: `http://127.0.0.1/${n}`,
  config: {},
  userId: 'u1',
});

/** A processor that never finishes: its job is running when its worker is lost. */
const forever = () => new Promise<never>(() => {});

describe.each(BACKPLANE_MODES)('backplane conformance: %s', (mode) => {
  let deployment: TestDeployment;
  let backplane: Backplane;
  const workers: TestQueueWorker<unknown>[] = [];

  beforeEach(async () => {
    deployment = await createTestDeployment({ mode });
    backplane = await deployment.backplane();
  });
  afterEach(async () => {
    for (const w of workers.splice(0)) await w.close(true);
    await deployment.close();
  });

  const worker = <R>(processor: (job: Job<TestJobData>) => Promise<R>, options = {}) => {
    const w = backplane.createWorker(processor, { queue: 'tests', concurrency: 1, ...options });
    workers.push(w as TestQueueWorker<unknown>);
    return w;
  };

  it('runs queued jobs once each, higher priority first, with their data', async () => {
    const data = [job(1), job(2), job(3)];
    await backplane.queue.add('performance', data[0]!, { jobId: data[0]!.testId, priority: 10 });
    await backplane.queue.add('performance', data[1]!, { jobId: data[1]!.testId, priority: 1 });
    await backplane.queue.add('performance', data[2]!, { jobId: data[2]!.testId, priority: 5 });
    expect(await backplane.queue.getJobCounts('waiting', 'prioritized')).toEqual({
      waiting: 0,
      prioritized: 3,
    });

    const seen: string[] = [];
    worker(async (j) => {
      seen.push(j.data.url);
      return j.data.testId;
    });
    await expect.poll(() => seen.length, { timeout: 30_000 }).toBe(3);
    expect(seen).toEqual(['http://127.0.0.1/2', 'http://127.0.0.1/3', 'http://127.0.0.1/1']);
    const done = await backplane.queue.getJob(data[0]!.testId);
    await expect.poll(async () => (await done!.getState()) as string).toBe('completed');
  });

  it('adds a batch in one call (addBulk, the API group commit): each job once, by priority', async () => {
    const data = Array.from({ length: 20 }, (_, n) => job(n));
    const bulk = data.map((d, n) => ({
      name: 'performance',
      data: d,
      opts: { jobId: d.testId, priority: n % 2 ? 1 : 6, attempts: 3 },
    }));
    const added = await backplane.queue.addBulk(bulk);
    expect(added.map((j) => j.id)).toEqual(data.map((d) => d.testId));
    // The same job ids again change nothing.
    await backplane.queue.addBulk(bulk.slice(0, 5));
    expect(await backplane.queue.getJobCounts('waiting', 'prioritized')).toEqual({
      waiting: 0,
      prioritized: 20,
    });
    const first = await backplane.queue.getJob(data[0]!.testId);
    expect(first?.data).toEqual(data[0]);
    expect(first?.opts.attempts).toBe(3);

    const seen: string[] = [];
    worker(async (j) => {
      seen.push(j.data.testId);
    });
    await expect.poll(() => seen.length, { timeout: 30_000 }).toBe(20);
    expect(new Set(seen).size).toBe(20);
    // BullMQ's 1 is its highest priority: the odd ones first.
    expect(new Set(seen.slice(0, 10))).toEqual(new Set(data.filter((_, n) => n % 2).map((d) => d.testId)));
  });

  it("puts browser tests in their own queue, run only by that queue's consumers; by id it finds a job in either", async () => {
    const light = job(1);
    const browser: TestJobData = { ...job(2), testType: 'browser' };
    const added = await backplane.queue.addBulk(
      [browser, light].map((d) => ({ name: d.testType, data: d, opts: { jobId: d.testId, priority: 5 } })),
    );
    expect(added.map((j) => [j.id, j.queueName])).toEqual([
      [browser.testId, 'browser'],
      [light.testId, 'tests'],
    ]);
    expect(await backplane.queue.named('browser').getJobCounts('prioritized')).toEqual({ prioritized: 1 });
    expect(await backplane.queue.named('tests').getJobCounts('prioritized')).toEqual({ prioritized: 1 });
    expect(await backplane.queue.getJobCounts('prioritized')).toEqual({ prioritized: 2 });
    expect((await backplane.queue.getJob(browser.testId))?.data).toEqual(browser);
    expect(await backplane.queue.getJobState(browser.testId)).toBe('prioritized');

    const ran: [string, string][] = [];
    worker(async (j) => void ran.push(['tests', j.data.testType]));
    await expect.poll(() => ran.length, { timeout: 30_000 }).toBe(1);
    // The light queue's consumer never sees the browser test, which waits for its own.
    expect(await backplane.queue.getJobState(browser.testId)).toBe('prioritized');
    worker(async (j) => void ran.push(['browser', j.data.testType]), { queue: 'browser' });
    await expect.poll(() => ran.length, { timeout: 30_000 }).toBe(2);
    expect(ran).toEqual([
      ['tests', 'performance'],
      ['browser', 'browser'],
    ]);

    const waiting: TestJobData = { ...job(3), testType: 'browser' };
    await backplane.queue.add('browser', waiting, { jobId: waiting.testId, delay: 60_000 });
    expect(await backplane.queue.remove(waiting.testId)).toBe(1);
    expect(await backplane.queue.getJobState(waiting.testId)).toBe('unknown');
  });

  it('retries a failing job up to its attempts, then fails it', async () => {
    const data = job(1);
    await backplane.queue.add('performance', data, { jobId: data.testId, attempts: 2 });
    let runs = 0;
    worker(async () => {
      runs++;
      throw new Error(`attempt ${runs} failed`);
    });
    const added = (await backplane.queue.getJob(data.testId))!;
    await expect.poll(async () => (await added.getState()) as string, { timeout: 30_000 }).toBe('failed');
    expect(runs).toBe(2);
    const failed = (await backplane.queue.getJob(data.testId))!;
    expect(failed.attemptsMade).toBe(2);
    expect(failed.failedReason).toBe('attempt 2 failed');
  });

  it('runs a job again when the worker running it is lost (a stalled job)', async () => {
    const data = job(1);
    await backplane.queue.add('performance', data, { jobId: data.testId });
    const rules = { lockDuration: 1_000, stalledInterval: 500 };
    const lost = worker(forever, rules);
    const added = (await backplane.queue.getJob(data.testId))!;
    await expect.poll(async () => (await added.getState()) as string, { timeout: 30_000 }).toBe('active');
    // As a crash: no more lock renewals, the job is left active.
    await lost.close(true);

    const stalled: string[] = [];
    const heir = worker(async (j) => j.data.testId, rules);
    heir.on('stalled', (id) => stalled.push(id));
    await expect.poll(async () => (await added.getState()) as string, { timeout: 30_000 }).toBe('completed');
    expect(stalled).toEqual([data.testId]);
  });

  it('fails a job that stalled more often than maxStalledCount', async () => {
    const data = job(1);
    await backplane.queue.add('performance', data, { jobId: data.testId, attempts: 3 });
    const rules = { lockDuration: 1_000, stalledInterval: 500, maxStalledCount: 0 };
    const lost = worker(forever, rules);
    const added = (await backplane.queue.getJob(data.testId))!;
    await expect.poll(async () => (await added.getState()) as string, { timeout: 30_000 }).toBe('active');
    await lost.close(true);

    let ran = false;
    worker(async () => (ran = true), rules);
    await expect.poll(async () => (await added.getState()) as string, { timeout: 30_000 }).toBe('failed');
    expect(ran).toBe(false);
    expect((await backplane.queue.getJob(data.testId))!.failedReason).toMatch(/stalled/);
  });

  it('publishes channel messages on its bus and keeps their history', async () => {
    const heard: string[] = [];
    await backplane.pubsub.subscribe(channelTopic('test-progress-x'), (raw) => heard.push(raw));
    const sent = await backplane.eventLog.publish(
      createMessage({ event: Events.TEST_PROGRESS, channel: 'test-progress-x', data: { testId: 'x', n: 1 } }),
    );
    await expect.poll(() => heard.map((raw) => JSON.parse(raw) as unknown)).toEqual([sent]);
    expect((await backplane.eventLog.recover('test-progress-x', 0)).messages).toEqual([sent]);
  });

  it('gives rate limiters whose counters every process of the deployment shares', async () => {
    const options = { name: 'conformance', points: 2, durationSec: 60 };
    const here = backplane.createRateLimiter(options);
    // Another process of the deployment (in embedded mode there is only this one).
    const there = (await deployment.backplane()).createRateLimiter(options);
    expect((await here.consume('k')).remainingPoints).toBe(1);
    expect((await there.consume('k')).remainingPoints).toBe(0);
    const refused = await here.consume('k').catch((res: RateLimiterRes) => res);
    expect(refused).toBeInstanceOf(RateLimiterRes);
    expect((refused as RateLimiterRes).msBeforeNext).toBeGreaterThan(58_000);
    expect((await there.consume('other')).remainingPoints).toBe(1);
    // A key created with its own duration keeps it (the throttle's growing waits).
    await here.consume('short', 1, { customDuration: 5 });
    expect((await there.get('short'))!.msBeforeNext).toBeLessThanOrEqual(5_000);
    await there.delete('k');
    expect(await here.get('k')).toBeNull();
  });
});
