import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { TestCatalog } from '@crucible/shared';
import { TestsRepository, UsersRepository, createDb, migrateToLatest } from '@crucible/db';
import { Egress, parseAllowlist } from '@crucible/shared/egress';
import { BACKPLANE_MODES, createTestDeployment } from '@crucible/backplane/testing';
import type { BackplaneMode } from '@crucible/backplane/testing';
import { createEngines } from '../src/engines/registry.js';
import { createTestWorker } from '../src/worker.js';
import type { TestWorkerDeps } from '../src/worker.js';

/** What a test opened, closed after it in the reverse order. */
function closer() {
  const steps: (() => Promise<unknown>)[] = [];
  onTestFinished(async () => {
    for (const step of steps.reverse()) await step();
  });
  return (step: () => Promise<unknown>) => steps.push(step);
}

/** A keep-alive target that counts the connections open to it at once. */
async function countingTarget(closeAfter: ReturnType<typeof closer>) {
  const counts = { open: 0, peak: 0 };
  const server = createServer((_req, res) => res.end('ok'));
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket) => {
    counts.open++;
    counts.peak = Math.max(counts.peak, counts.open);
    socket.once('close', () => counts.open--);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closeAfter(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, counts };
}

/** A deployment of `mode`, one user, and a worker running three tests at once; closed after the test. */
async function setup(mode: BackplaneMode, options: Partial<TestWorkerDeps> = {}) {
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
    concurrency: 3,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    engines: createEngines(new Egress({ allowlist: parseAllowlist('127.0.0.1') })),
    stressRetryMs: 200,
    ...options,
  });
  closeAfter(() => worker.close());
  await worker.ready;

  /** Stress tests of the user, queued together; their ids. */
  async function submitStress(count: number, url: string, config: Record<string, unknown>) {
    const ids = Array.from({ length: count }, () => randomUUID());
    for (const testId of ids) {
      await tests.create({
        testId,
        testType: 'stress',
        testName: null,
        url,
        config,
        priority: 5,
        userId: user!.id,
      });
    }
    await backplane.queue.addBulk(
      ids.map((testId) => ({
        name: 'stress',
        data: { testId, testType: 'stress' as const, url, config, userId: user!.id },
        opts: { jobId: testId, attempts: TestCatalog.stress.attempts },
      })),
    );
    return ids;
  }
  return { backplane, tests, closeAfter, submitStress };
}

describe.each(BACKPLANE_MODES)('stress connections per workspace (%s)', (mode) => {
  it('runs two 100-connection tests of one user at once and queues the third, saying why, until there is room', async () => {
    // Room for all three at once, but for the workspace's cap (the default, 200).
    const { backplane, tests, closeAfter, submitStress } = await setup(mode);
    const target = await countingTarget(closeAfter);
    const ids = await submitStress(3, target.url, { connections: 100, durationSec: 2 });

    // One of them waits, queued, with the reason, while the other two hold the 200.
    let waiting: string | undefined;
    await expect
      .poll(
        async () => {
          const notes = await backplane.stressConnections.waiting(ids);
          waiting = [...notes.keys()][0];
          return [...notes.values()];
        },
        { timeout: 30_000, interval: 50 },
      )
      .toEqual([
        "waiting for stress connections: this test needs 100, and 200 of the 200 one workspace's stress tests may hold at once are in use",
      ]);
    expect((await tests.findById(waiting!))?.status).toBe('queued');

    // Then it runs, once the others give their connections back.
    await expect
      .poll(async () => Promise.all(ids.map(async (id) => (await tests.findById(id))?.status)), {
        timeout: 60_000,
        interval: 200,
      })
      .toEqual(['completed', 'completed', 'completed']);
    for (const id of ids) {
      // Never cut to fit: each ran with the connections it asked for.
      const result = (await tests.findById(id))?.result as {
        limits: { connections: number; capped: boolean };
      };
      expect(result.limits).toMatchObject({ connections: 100, capped: false });
    }
    expect(target.counts.peak).toBeLessThanOrEqual(200);
    expect(await backplane.stressConnections.waiting(ids)).toEqual(new Map());
    // Three stress tests of 2 s, one after two others, on a machine the suite shares.
  }, 120_000);

  it('fails a test that alone needs more than the cap, at once, instead of queueing it for ever', async () => {
    const { tests, submitStress } = await setup(mode, { maxStressConnectionsPerOwner: 50 });
    // Nothing listens there: the test must fail before it connects anywhere.
    const [testId] = await submitStress(1, 'http://127.0.0.1:9/', { connections: 100 });
    await expect
      .poll(async () => (await tests.findById(testId!))?.status, { timeout: 20_000 })
      .toBe('failed');
    expect((await tests.findById(testId!))?.error_message).toBe(
      "this test needs 100 connections; one workspace's stress tests may hold 50 at once",
    );
    expect((await tests.attemptsOf(testId!)).map((a) => a.status)).toEqual(['failed']);
  });
});
