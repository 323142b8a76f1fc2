import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '@crucible/db/testing';
import { REDIS_URL, deletePrefix } from './helpers.js';
import { boardQueue, freePort, openQueueBoard, startProcess, waitForReady } from './processes.js';
import type { AppProcess } from './processes.js';
import { WsClient } from './ws-client.js';

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
    target = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>target</title>');
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    targetUrl = `http://127.0.0.1:${(target.address() as { port: number }).port}/`;
    database = await createTestDatabase();
    const port = await freePort();
    apiUrl = `http://127.0.0.1:${port}`;
    proc = startProcess('all-in-one', 'apps/api/src/all-in-one.ts', {
      DATABASE_URL: database.url,
      REDIS_URL,
      CRUCIBLE_PREFIX: prefix,
      CRUCIBLE_DATA_DIR: dataDir,
      JWT_SECRET: '',
      PORT: String(port),
      // HOST unset: the all-in-one server listens on loopback only by default.
      HOST: '',
      TARGET_ALLOWLIST: '127.0.0.1',
    });
    await waitForReady(`${apiUrl}/health/ready`, proc, 60_000);
  }, 90_000);

  afterAll(async () => {
    const code = await proc?.stop('SIGTERM');
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
});
