import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '@crucible/db/testing';
import { TEST_REDIS_URL as REDIS_URL, deleteRedisPrefix as deletePrefix } from '@crucible/backplane/testing';
import {
  boardQueue,
  freePort,
  openQueueBoard,
  startProcess,
  waitForReady,
  WsClient,
} from '@crucible/api/testing';
import type { AppProcess } from '@crucible/api/testing';
import { ENTRY } from './entry.js';

/** Status of a WebSocket upgrade of `url` sent from a browser page of `origin` (101: it opened). */
function upgradeStatus(url: string, origin: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { origin });
    socket.once('open', () => {
      socket.close();
      resolve(101);
    });
    socket.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    socket.once('error', reject);
  });
}

describe('end to end: the all-in-one entry with DATABASE_URL and REDIS_URL (single-server mode)', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let target: Server;
  let targetUrl: string;
  const prefix = `t-${randomUUID()}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'crucible-aio-'));
  let proc: AppProcess;
  let apiUrl: string;
  let adminToken: string;
  let testId: string;

  beforeAll(async () => {
    target = createServer((req, res) => {
      // /hang never answers: a test of it stays running, writing nothing, until cancelled.
      if (req.url === '/hang') return;
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>target</title>');
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    targetUrl = `http://127.0.0.1:${(target.address() as { port: number }).port}/`;
    database = await createTestDatabase();
    const port = await freePort();
    apiUrl = `http://127.0.0.1:${port}`;
    proc = startProcess('all-in-one', ENTRY, {
      DATABASE_URL: database.url,
      REDIS_URL,
      CRUCIBLE_PREFIX: prefix,
      CRUCIBLE_DATA_DIR: dataDir,
      JWT_SECRET: '',
      PORT: String(port),
      // HOST unset: the all-in-one server listens on loopback only by default.
      HOST: '',
      TARGET_ALLOWLIST: '127.0.0.1',
      // Shorter than the 30 s default: both halves of the process must use it (the last test).
      WORKER_LOCK_DURATION_MS: '6000',
      // The gateway's own variables, which /ws must obey as the gateway process does.
      GATEWAY_ALLOWED_ORIGINS: 'http://dashboard.example',
      GATEWAY_MAX_FRAME_BYTES: '2048',
    });
    await waitForReady(`${apiUrl}/health/ready`, proc, 60_000);
  }, 90_000);

  afterAll(async () => {
    const code = await proc?.stop('SIGTERM');
    target?.closeAllConnections();
    target?.close();
    await database?.drop();
    const redis = new Redis(REDIS_URL);
    await deletePrefix(redis, prefix);
    redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
    expect(code).toBe(0);
  }, 60_000);

  it('listens on loopback only by default, and its banner says the address it is bound to', () => {
    const port = new URL(apiUrl).port;
    expect(proc.output()).toContain(
      `Crucible is running on http://127.0.0.1:${port} (WebSocket: ws://127.0.0.1:${port}/ws)\n` +
        'listening on 127.0.0.1 only (HOST=0.0.0.0 opens it to other machines)\n' +
        'registration: open until the first account (the admin), then by invitation (REGISTRATION)\n',
    );
  });

  it('runs a test on the real services and says which mode it is in', async () => {
    expect(proc.output()).toContain('mode: all-in-one on PostgreSQL 127.0.0.1:5432 and Redis 127.0.0.1:6379');
    const ready = (await (await fetch(`${apiUrl}/health/ready`)).json()) as { checks: object };
    // Redis is checked, not the embedded queue.
    expect(ready.checks).toMatchObject({ database: true, redis: true });
    expect(ready.checks).not.toHaveProperty('queue');

    const registered = await fetch(`${apiUrl}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'single@example.com', password: 'a long enough password' }),
    });
    const { token } = (await registered.json()) as { token: string };
    adminToken = token;
    const submitted = await fetch(`${apiUrl}/api/test/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ testType: 'performance', url: targetUrl, config: { iterations: 2 } }),
    });
    expect(submitted.status).toBe(202);
    ({ testId } = (await submitted.json()) as { testId: string });

    const client = new WsClient(`${apiUrl.replace('http', 'ws')}/ws?token=${token}`);
    await client.opened();
    const channel = `test-progress-${testId}`;
    client.send({ type: 'subscribe', channel, since: { offset: 0 } });
    await expect
      .poll(() => client.events(channel).map((e) => e.event), { timeout: 30_000 })
      .toEqual(['test:started', 'test:progress', 'test:progress', 'test:completed']);
    client.close();
  }, 60_000);

  it("serves bull-board to admins, listing the test's job, and to nobody else", async () => {
    const register = (invitation?: string) =>
      fetch(`${apiUrl}/api/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'other@example.com', password: 'a long enough password', invitation }),
      });
    // Once the admin exists, others need the admin's invitation.
    expect((await register()).status).toBe(403);
    const invited = await fetch(`${apiUrl}/api/admin/invitations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ email: 'other@example.com' }),
    });
    expect(invited.status).toBe(201);
    const registered = await register(((await invited.json()) as { token: string }).token);
    expect(registered.status).toBe(201);
    const { token: userToken } = (await registered.json()) as { token: string };
    expect((await openQueueBoard(apiUrl)).status).toBe(401);
    expect(await openQueueBoard(apiUrl, userToken)).toEqual({ status: 403, cookie: undefined });
    expect((await boardQueue(apiUrl, undefined)).status).toBe(401);

    const opened = await openQueueBoard(apiUrl, adminToken);
    expect(opened.status).toBe(204);
    // BullMQ moves the job to completed just after the worker has published test:completed.
    await expect
      .poll(async () => {
        const board = await boardQueue(apiUrl, opened.cookie, 'completed');
        return [board.status, board.queue?.jobs.map((j) => [j.id, j.data.testId])];
      })
      .toEqual([200, [[testId, testId]]]);
  });

  it('gives its worker and its "stalled" one lock duration, WORKER_LOCK_DURATION_MS', async () => {
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` };
    const submitted = await fetch(`${apiUrl}/api/test/run`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ testType: 'performance', url: `${targetUrl}hang`, config: { iterations: 1 } }),
    });
    expect(submitted.status).toBe(202);
    const { testId: hanging } = (await submitted.json()) as { testId: string };
    const detail = async () =>
      (await (await fetch(`${apiUrl}/api/test/queue/jobs/${hanging}`, { headers })).json()) as {
        status: string;
        stalled: boolean;
        stalledAfterMs: number;
      };
    await expect.poll(async () => (await detail()).status, { timeout: 30_000 }).toBe('running');

    // The worker locks the job for 6 s, not BullMQ's 30 s.
    const redis = new Redis(REDIS_URL);
    try {
      const ttl = await redis.pttl(`${prefix}:bull:tests:${hanging}:lock`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(6_000);
    } finally {
      redis.disconnect();
    }

    // Nothing is written while the target keeps its answer: the api says stalled after those 6 s.
    expect(await detail()).toMatchObject({ status: 'running', stalled: false, stalledAfterMs: 6_000 });
    await expect.poll(async () => (await detail()).stalled, { timeout: 20_000, interval: 500 }).toBe(true);
    expect((await detail()).status).toBe('running');

    const cancelled = await fetch(`${apiUrl}/api/test/${hanging}/cancel`, {
      method: 'POST',
      headers: { authorization: headers.authorization },
    });
    expect(cancelled.status).toBe(200);
  });

  it("applies the gateway's own variables at /ws, as the gateway process does", async () => {
    const ws = `${apiUrl.replace('http', 'ws')}/ws?token=${adminToken}`;
    // GATEWAY_ALLOWED_ORIGINS: a page of another origin is refused, the dashboard's is let in.
    expect(await upgradeStatus(ws, 'https://elsewhere.example')).toBe(403);
    expect(await upgradeStatus(ws, 'http://dashboard.example')).toBe(101);
    // GATEWAY_MAX_FRAME_BYTES: a frame over its 2 KiB closes the socket with 1009.
    const client = new WsClient(ws);
    await client.opened();
    const closed = once(client.ws, 'close');
    client.send({ type: 'subscribe', channel: 'x'.repeat(4096) });
    const [code] = (await closed) as [number];
    expect(code).toBe(1009);
  });
});
