import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { TestCatalog } from '@crucible/contracts';
import { Egress, parseAllowlist } from '@crucible/egress';
import {
  TestAttemptsRepository,
  TestsRepository,
  UsersRepository,
  WorkspaceMembersRepository,
  WorkspacesRepository,
  createDb,
  migrateToLatest,
} from '@crucible/db';
import { RedisStressConnectionStore } from '@crucible/backplane';
import { BACKPLANE_MODES, TEST_REDIS_URL, createTestDeployment } from '@crucible/backplane/testing';
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

  /** Stress tests of the user (or of `by`, in a workspace), queued together; their ids. */
  async function submitStress(
    count: number,
    url: string,
    config: Record<string, unknown>,
    by: { userId: string; workspaceId?: string } = { userId: user!.id },
  ) {
    const ids = Array.from({ length: count }, () => randomUUID());
    for (const testId of ids) {
      await tests.create({
        testId,
        testType: 'stress',
        testName: null,
        url,
        config,
        priority: 5,
        userId: by.userId,
        workspaceId: by.workspaceId,
      });
    }
    await backplane.queue.addBulk(
      ids.map((testId) => ({
        name: 'stress',
        data: { testId, testType: 'stress' as const, url, config, ...by },
        opts: { jobId: testId, attempts: TestCatalog.stress.attempts },
      })),
    );
    return ids;
  }
  /** A second user, and a team workspace of both users. */
  async function team() {
    const other = await new UsersRepository(db.kysely).create(
      `${randomUUID()}@example.test`,
      'not-a-real-hash',
    );
    const workspace = await new WorkspacesRepository(db.kysely).create('Team', user!.id);
    await new WorkspaceMembersRepository(db.kysely).add(workspace.id, other!.id, 'member');
    return { workspaceId: workspace.id, users: [user!.id, other!.id] as const };
  }
  return {
    backplane,
    tests,
    attempts: new TestAttemptsRepository(db.kysely),
    closeAfter,
    submitStress,
    prefix: deployment.prefix,
    team,
  };
}

describe.each(BACKPLANE_MODES)('stress connections per workspace (%s)', (mode) => {
  it('runs two 100-connection tests of one user at once and queues the third, saying why, until there is room', async () => {
    // Room for all three at once, but for the workspace's cap (the default, 200); the host's is lifted.
    const { backplane, tests, closeAfter, submitStress } = await setup(mode, { targetHostMaxConcurrent: 3 });
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

  it('counts the connections of every member of a workspace together, not each user alone', async () => {
    const { backplane, tests, closeAfter, submitStress, team } = await setup(mode, {
      maxStressConnectionsPerOwner: 150,
    });
    const target = await countingTarget(closeAfter);
    const { workspaceId, users } = await team();
    const config = { connections: 100, durationSec: 2 };
    const [first] = await submitStress(1, target.url, config, { userId: users[0], workspaceId });
    await expect
      .poll(async () => (await tests.findById(first!))?.status, { timeout: 20_000 })
      .toBe('running');
    // Another member's test: their own user, the same workspace's 150.
    const [second] = await submitStress(1, target.url, config, { userId: users[1], workspaceId });
    await expect
      .poll(async () => (await backplane.stressConnections.waiting([second!])).get(second!), {
        timeout: 20_000,
      })
      .toBe(
        "waiting for stress connections: this test needs 100, and 100 of the 150 one workspace's stress tests may hold at once are in use",
      );
    expect((await tests.findById(second!))?.status).toBe('queued');
    await expect
      .poll(async () => (await tests.findById(second!))?.status, { timeout: 60_000, interval: 200 })
      .toBe('completed');
  }, 120_000);

  it('fails a test that alone needs more than the cap, at once, instead of queueing it for ever', async () => {
    const { tests, attempts, submitStress } = await setup(mode, { maxStressConnectionsPerOwner: 50 });
    // Nothing listens there: the test must fail before it connects anywhere.
    const [testId] = await submitStress(1, 'http://127.0.0.1:9/', { connections: 100 });
    await expect
      .poll(async () => (await tests.findById(testId!))?.status, { timeout: 20_000 })
      .toBe('failed');
    expect((await tests.findById(testId!))?.error_message).toBe(
      "this test needs 100 connections; one workspace's stress tests may hold 50 at once",
    );
    expect((await attempts.attemptsOf(testId!)).map((a) => a.status)).toEqual(['failed']);
  });
});

describe.each(BACKPLANE_MODES)('stress tests per target host (%s)', (mode) => {
  const egress = new Egress({ allowlist: parseAllowlist('127.0.0.1') });

  it('runs two stress tests against one host at once; the third waits, queued, saying why, then runs', async () => {
    const { backplane, tests, closeAfter, submitStress } = await setup(mode, {
      resolveHost: (host) => egress.resolve(host),
    });
    const target = await countingTarget(closeAfter);
    const ids = await submitStress(3, target.url, { connections: 10, durationSec: 2 });

    let waiting: string | undefined;
    await expect
      .poll(
        async () => {
          const notes = await backplane.targetHosts.waiting(ids);
          waiting = [...notes.keys()][0];
          return [...notes.values()];
        },
        { timeout: 30_000, interval: 50 },
      )
      .toEqual(['waiting: 2 stress tests already run against this host']);
    expect((await tests.findById(waiting!))?.status).toBe('queued');
    const statuses = async () => Promise.all(ids.map(async (id) => (await tests.findById(id))?.status));
    expect((await statuses()).filter((s) => s === 'running').length).toBeLessThanOrEqual(2);

    // A slot given back (the first two complete) lets the third run.
    await expect
      .poll(statuses, { timeout: 60_000, interval: 200 })
      .toEqual(['completed', 'completed', 'completed']);
    expect(await backplane.targetHosts.waiting(ids)).toEqual(new Map());
    // Three stress tests of 2 s, one after two others, on a machine the suite shares.
  }, 120_000);

  it.skipIf(mode === 'embedded')(
    'gives a dead worker’s slots back when their leases lapse (distributed: embedded ones die with the process)',
    async () => {
      const { backplane, tests, closeAfter, submitStress, prefix } = await setup(mode, {
        resolveHost: (host) => egress.resolve(host),
      });
      // Another worker held both of the host's slots and died: nobody renews or releases them.
      const redis = new Redis(TEST_REDIS_URL);
      closeAfter(() => redis.quit());
      const dead = new RedisStressConnectionStore(redis, { prefix, namespace: 'hosts', leaseMs: 1_500 });
      for (const id of ['lost-1', 'lost-2']) {
        expect((await dead.reserve('127.0.0.1', id, 1, 2)).granted).toBe(true);
      }
      await dead.close();

      const target = await countingTarget(closeAfter);
      const [testId] = await submitStress(1, target.url, { connections: 5, durationSec: 1 });
      await expect
        .poll(async () => (await backplane.targetHosts.waiting([testId!])).get(testId!), {
          timeout: 30_000,
          interval: 50,
        })
        .toBe('waiting: 2 stress tests already run against this host');
      await expect
        .poll(async () => (await tests.findById(testId!))?.status, { timeout: 30_000, interval: 200 })
        .toBe('completed');
    },
    60_000,
  );
});
