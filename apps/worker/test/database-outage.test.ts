import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { Socket, createServer } from 'node:net';
import type { Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { testJobOptions } from '@crucible/contracts';
import { Egress, parseAllowlist } from '@crucible/egress';
import { createRedisBackplane } from '@crucible/backplane';
import { deleteRedisPrefix } from '@crucible/backplane/testing';
import { TestsRepository, UsersRepository, createDb, migrateToLatest } from '@crucible/db';
import { createTestDatabase } from '@crucible/db/testing';
import { createEngines } from '../src/engines/registry.js';
import { createTestWorker } from '../src/worker.js';

/** A TCP proxy in front of PostgreSQL that the test can take down (refuse + cut) and bring back. */
async function startProxy(target: URL) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const listen = async (port: number) => {
    server = createServer((client) => {
      const upstream = createConnectionTo(target);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => s.destroy());
        s.on('close', () => sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  };
  const port = await listen(0);
  return {
    port,
    async down() {
      const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
    up: () => listen(port),
    close() {
      for (const s of sockets) s.destroy();
      server?.close();
    },
  };
}

function createConnectionTo(target: URL): Socket {
  const socket = new Socket();
  socket.connect(Number(target.port || 5432), target.hostname);
  return socket;
}

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

describe('PostgreSQL outage', () => {
  it('a worker retries its writes while PostgreSQL is unreachable and finishes the test when it is back', async () => {
    const database = await createTestDatabase();
    closers.push(() => database.drop());
    const direct = createDb(database.url, { max: 2 });
    closers.push(() => direct.close());
    await migrateToLatest(direct.kysely);
    const user = await new UsersRepository(direct.kysely).create(`${randomUUID()}@example.test`, 'x');

    const proxy = await startProxy(new URL(database.url));
    closers.push(() => proxy.close());
    const viaProxy = new URL(database.url);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const workerDb = createDb(viaProxy.toString(), { max: 4 });
    closers.push(() => workerDb.close());

    let outageStarted: Promise<void> | undefined;
    const site = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>t</title>');
    });
    let requests = 0;
    site.on('request', () => {
      // After the second request the worker's progress write meets a dead database.
      if (++requests === 2) outageStarted = proxy.down();
    });
    site.listen(0, '127.0.0.1');
    await once(site, 'listening');
    closers.push(() => {
      site.closeAllConnections();
      site.close();
    });
    const url = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;

    const logs: string[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          logs.push(chunk.toString());
          done();
        },
      }),
    );
    const prefix = `t-${randomUUID()}`;
    const backplane = createRedisBackplane({ url: REDIS_URL, prefix });
    await backplane.waitUntilReady();
    closers.push(async () => {
      await backplane.close();
      const redis = new Redis(REDIS_URL);
      await deleteRedisPrefix(redis, prefix);
      redis.disconnect();
    });
    const queue = backplane.queue;
    const worker = createTestWorker({
      db: workerDb,
      backplane,
      logger,
      concurrency: 1,
      engines: createEngines(new Egress({ allowlist: parseAllowlist('127.0.0.1') })),
      // Every report is written, so the outage meets a progress write (not only the result's).
      progressWriteIntervalMs: 0,
    });
    closers.push(() => worker.close());
    await worker.ready;

    const tests = new TestsRepository(direct.kysely);
    const testId = randomUUID();
    const config = { iterations: 4, timeoutMs: 15_000 };
    await tests.create({
      testId,
      testType: 'performance',
      testName: null,
      url,
      config,
      priority: 5,
      userId: user!.id,
    });
    await queue.add(
      'performance',
      { testId, testType: 'performance', url, config, userId: user!.id },
      testJobOptions('performance', testId, 0, 5),
    );

    await expect
      .poll(() => logs.some((l) => l.includes('retrying the write')), { timeout: 20_000 })
      .toBe(true);
    await outageStarted;
    expect(requests).toBe(2);
    await proxy.up();

    await expect
      .poll(async () => (await tests.findById(testId))?.status, { timeout: 30_000 })
      .toBe('completed');
    const row = await tests.findById(testId);
    expect(row).toMatchObject({ retry_count: 0, progress: 100, error_message: null });
    expect((row?.result as { requests: unknown }).requests).toEqual({ total: 4, succeeded: 4, failed: 0 });
    expect(requests).toBe(4);
  }, 90_000);
});
