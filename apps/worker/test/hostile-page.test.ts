import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testJobData, testJobOptions } from '@crucible/contracts';
import type { TestType } from '@crucible/contracts';
import { createRedisBackplane } from '@crucible/backplane';
import type { Backplane } from '@crucible/backplane';
import { deleteRedisPrefix } from '@crucible/backplane/testing';
import { TestsRepository, UsersRepository, createDb, migrateToLatest } from '@crucible/db';
import type { Db } from '@crucible/db';
import { createTestDatabase, freePort } from '@crucible/db/testing';
import { linkPage } from './fixtures/link-page.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const WORKER_DIR = fileURLToPath(new URL('..', import.meta.url));

/**
 * The attack of issue 18: one user's seo and performance tests of a page of 100,000 links (8.6 MB)
 * beside another user's small tests, on a real worker process. Parsing that page once held the
 * worker's event loop for minutes: health went silent, job locks lapsed and the test ran again.
 */
describe('a hostile page', () => {
  const prefix = `t-${randomUUID()}`;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let db: Db;
  let backplane: Backplane;
  let site: Server;
  let worker: ChildProcess;
  let output = '';
  let healthUrl = '';

  beforeAll(async () => {
    database = await createTestDatabase();
    db = createDb(database.url, { max: 2 });
    await migrateToLatest(db.kysely);
    backplane = createRedisBackplane({ url: REDIS_URL, prefix });
    await backplane.waitUntilReady();

    const huge = linkPage(100_000).replace(
      '</title>',
      '</title><link rel="stylesheet" href="/style.css"><script src="/app.js"></script>',
    );
    site = createServer((req, res) => {
      if (req.url === '/huge') res.writeHead(200, { 'content-type': 'text/html' }).end(huge);
      else if (req.url === '/style.css')
        res.writeHead(200, { 'content-type': 'text/css' }).end('a{color:red}');
      else res.writeHead(200, { 'content-type': 'text/html' }).end(linkPage(3));
    });
    site.listen(0, '127.0.0.1');
    await once(site, 'listening');

    const port = await freePort();
    healthUrl = `http://127.0.0.1:${port}`;
    worker = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: WORKER_DIR,
      env: {
        ...process.env,
        DATABASE_URL: database.url,
        REDIS_URL,
        CRUCIBLE_PREFIX: prefix,
        WORKER_HEALTH_PORT: String(port),
        WORKER_CONCURRENCY: '5',
        TARGET_ALLOWLIST: '127.0.0.1',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    worker.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    for (let ready = false; !ready; await new Promise((resolve) => setTimeout(resolve, 200))) {
      if (worker.exitCode !== null) throw new Error(`the worker exited:\n${output}`);
      ready = await fetch(`${healthUrl}/health/ready`).then(
        (r) => r.ok,
        () => false,
      );
    }
  }, 90_000);

  afterAll(async () => {
    if (worker?.exitCode === null) {
      const exited = once(worker, 'exit');
      worker.kill('SIGTERM');
      await exited;
    }
    site?.closeAllConnections();
    site?.close();
    await backplane?.close();
    const redis = new Redis(REDIS_URL);
    await deleteRedisPrefix(redis, prefix);
    redis.disconnect();
    await db?.close();
    await database?.drop();
  });

  it('holds up neither the worker nor anyone else, and its tests end in their first attempt', async () => {
    const users = new UsersRepository(db.kysely);
    const tests = new TestsRepository(db.kysely);
    const attacker = (await users.create(`${randomUUID()}@example.test`, 'not-a-real-hash'))!.id;
    const other = (await users.create(`${randomUUID()}@example.test`, 'not-a-real-hash'))!.id;
    const base = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;

    const submit = async (
      userId: string,
      testType: TestType,
      path: string,
      config: Record<string, unknown>,
    ) => {
      const row = await tests.create({
        testId: randomUUID(),
        testType,
        testName: null,
        url: `${base}${path}`,
        config,
        priority: 5,
        userId,
      });
      await backplane.queue.add(
        testType,
        testJobData(row!),
        testJobOptions(testType, row!.test_id, row!.run, row!.priority),
      );
      return row!.test_id;
    };

    // The worker's health is asked every 250 ms, each answer awaited at most 2 s.
    const unanswered: string[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const asked = new Date().toISOString();
        try {
          const res = await fetch(`${healthUrl}/health/live`, { signal: AbortSignal.timeout(2_000) });
          if (res.status !== 200) unanswered.push(`${asked}: ${res.status}`);
        } catch (err) {
          unanswered.push(`${asked}: ${(err as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();

    const hostileSeo = await submit(attacker, 'seo', '/huge', { checkLinks: 5 });
    const hostilePerformance = await submit(attacker, 'performance', '/huge', { iterations: 1 });
    const small = [
      await submit(other, 'seo', '/small', { checkLinks: 1 }),
      await submit(other, 'performance', '/small', { iterations: 1 }),
      await submit(other, 'api', '/small', {}),
    ];

    const status = async (testId: string) => (await tests.findById(testId))?.status;
    // Seconds (a parse may wait for a thread the big page holds), not the minutes of the attack.
    for (const testId of small) {
      await expect.poll(() => status(testId), { timeout: 45_000, interval: 200 }).toBe('completed');
    }
    for (const testId of [hostileSeo, hostilePerformance]) {
      await expect
        .poll(() => status(testId), { timeout: 120_000, interval: 500 })
        .toMatch(/^(completed|failed)$/);
    }
    polling = false;
    await poller;

    expect(unanswered, output).toEqual([]);
    for (const testId of [hostileSeo, hostilePerformance]) {
      const attempts = await db.kysely
        .selectFrom('test_attempts')
        .select(['attempt', 'status'])
        .where('test_id', '=', testId)
        .orderBy('attempt')
        .execute();
      expect(attempts).toEqual([{ attempt: 1, status: (await tests.findById(testId))!.status }]);
    }
    const seo = (await tests.findById(hostileSeo))!;
    expect(seo.status).toBe('completed');
    expect((seo.result as { limits: unknown }).limits).toEqual({
      bytes: { max: 5 * 1024 * 1024, reached: true },
      elements: { max: 50_000, reached: true },
      links: { max: 10_000, reached: true },
    });
    const performance = (await tests.findById(hostilePerformance))!;
    expect(performance.status, performance.error_message ?? '').toBe('completed');
    expect((performance.result as { limits: unknown }).limits).toEqual({
      elements: { max: 50_000, reached: true },
      resources: { max: 1_000, reached: false },
    });

    const metrics = await (await fetch(`${healthUrl}/metrics`)).text();
    const worst = /^crucible_event_loop_delay_max_seconds\{[^}]*\} (\S+)$/m.exec(metrics)?.[1];
    // The figure issue 18 asks for; printed, not asserted (speed lives in bench/).
    console.info(`worst event-loop delay of the worker during the hostile-page test: ${worst} s`);
  }, 240_000);
});
