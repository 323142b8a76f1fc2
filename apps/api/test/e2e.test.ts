import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '@crucible/db/testing';
import { REDIS_URL, SECRET, deletePrefix } from './helpers.js';
import { freePort, startProcess, waitForReady } from './processes.js';
import { WsClient as Client } from './ws-client.js';
import type { AppProcess } from './processes.js';

describe('end to end: api, worker and gateway as separate processes', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let target: Server;
  let targetUrl: string;
  let hits = 0;
  const prefix = `t-${randomUUID()}`;
  const procs: AppProcess[] = [];
  let apiUrl: string;
  let wsUrl: string;
  const ports = { api: 0, gateway: 0, worker: 0 };
  const metricsToken = `metrics-${randomUUID()}`;

  beforeAll(async () => {
    target = createServer((_req, res) => {
      hits++;
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><html><head><title>target</title></head><body>hello</body></html>');
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    targetUrl = `http://127.0.0.1:${(target.address() as { port: number }).port}/`;

    database = await createTestDatabase();
    const [port, gatewayPort, workerPort] = [await freePort(), await freePort(), await freePort()];
    const env = {
      DATABASE_URL: database.url,
      REDIS_URL,
      JWT_SECRET: SECRET,
      CRUCIBLE_PREFIX: prefix,
      PORT: String(port),
      GATEWAY_PORT: String(gatewayPort),
      WORKER_HEALTH_PORT: String(workerPort),
      HOST: '127.0.0.1',
      METRICS_TOKEN: metricsToken,
      TARGET_ALLOWLIST: '127.0.0.1',
      // Its users register themselves; invitations have their own tests (invitations.test.ts).
      REGISTRATION: 'open',
    };
    Object.assign(ports, { api: port, gateway: gatewayPort, worker: workerPort });
    const api = startProcess('api', 'apps/api/src/main.ts', env);
    const worker = startProcess('worker', 'apps/worker/src/main.ts', env);
    const gateway = startProcess('gateway', 'apps/gateway/src/main.ts', env);
    procs.push(api, worker, gateway);
    apiUrl = `http://127.0.0.1:${port}`;
    wsUrl = `ws://127.0.0.1:${gatewayPort}/ws`;
    await Promise.all([
      waitForReady(`${apiUrl}/health/ready`, api),
      waitForReady(`http://127.0.0.1:${workerPort}/health/ready`, worker),
      waitForReady(`http://127.0.0.1:${gatewayPort}/health/ready`, gateway),
    ]);
  }, 60_000);

  afterAll(async () => {
    const codes = await Promise.all(procs.map((p) => p.stop('SIGTERM')));
    target?.close();
    await database?.drop();
    const redis = new Redis(REDIS_URL);
    await deletePrefix(redis, prefix);
    redis.disconnect();
    // Every process drains and exits 0 on SIGTERM.
    expect(codes).toEqual(procs.map(() => 0));
  }, 60_000);

  async function post(path: string, body: object, token?: string) {
    const res = await fetch(`${apiUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }

  async function register(email: string): Promise<string> {
    const res = await post('/api/auth/register', { email, password: 'a long enough password' });
    expect(res.status).toBe(201);
    return res.body.token as string;
  }

  it('streams a performance test from submission to completion, to its owner only', async () => {
    await register('first-admin@example.com');
    const alice = await register('alice@example.com');
    const bob = await register('bob@example.com');

    // A socket without a valid token is refused with 401 before the upgrade.
    const refused = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${wsUrl}?token=not-a-token`);
      ws.once('unexpected-response', (req, res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
        req.destroy();
      });
      ws.on('error', () => {});
      ws.once('open', () => reject(new Error('upgraded without a valid token')));
    });
    expect(refused).toBe(401);

    const a = new Client(`${wsUrl}?token=${alice}`);
    const b = new Client(`${wsUrl}?token=${bob}`);
    await Promise.all([a.opened(), b.opened()]);
    await expect.poll(() => a.frames.some((f) => f.event === 'connection:established')).toBe(true);

    const submitted = await post(
      '/api/test/run',
      { testType: 'performance', url: targetUrl, config: { iterations: 3 } },
      alice,
    );
    expect(submitted.status).toBe(202);
    const testId = submitted.body.testId as string;
    const channel = `test-progress-${testId}`;

    a.send({ type: 'subscribe', channel, since: { offset: 0 } });
    b.send({ type: 'subscribe', channel, since: { offset: 0 } });

    await expect
      .poll(() => a.events(channel).some((f) => f.event === 'test:completed'), { timeout: 30_000 })
      .toBe(true);
    const events = a.events(channel);
    const names = events.map((e) => e.event);
    expect(names[0]).toBe('test:started');
    expect(names.at(-1)).toBe('test:completed');
    const progress = events
      .filter((e) => e.event === 'test:progress')
      .map((e) => (e.data as { progress: number }).progress);
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect([...progress].sort((x, y) => x - y)).toEqual(progress);
    expect(new Set(progress).size).toBe(progress.length);
    // Offsets are consecutive from 1: nothing lost, nothing twice.
    expect(events.map((e) => e.offset)).toEqual(events.map((_, i) => i + 1));
    expect(hits).toBeGreaterThanOrEqual(3);

    const detail = await fetch(`${apiUrl}/api/test/queue/jobs/${testId}`, {
      headers: { authorization: `Bearer ${alice}` },
    });
    expect(detail.status).toBe(200);
    const test = (await detail.json()) as Record<string, any>;
    expect(test).toMatchObject({ testId, status: 'completed', progress: 100, errorMessage: null });
    expect(test.startedAt).toEqual(expect.any(String));
    expect(test.completedAt).toEqual(expect.any(String));
    expect(test.result).toEqual(expect.objectContaining({}));
    expect(JSON.stringify(test.result)).toContain('"status":200');

    // The second user: 404 over HTTP, refused on the channel, and never a message of it.
    const asBob = await fetch(`${apiUrl}/api/test/queue/jobs/${testId}`, {
      headers: { authorization: `Bearer ${bob}` },
    });
    expect(asBob.status).toBe(404);
    await expect.poll(() => b.frames.some((f) => f.type === 'error' && f.channel === channel)).toBe(true);
    expect(b.frames.find((f) => f.type === 'error')).toMatchObject({ code: 'FORBIDDEN', channel });
    expect(b.events(channel)).toEqual([]);

    a.close();
    b.close();
  }, 60_000);

  it('listens on HOST only, and answers /metrics to the bearer of METRICS_TOKEN only, on every app', async () => {
    // Another loopback address reaches a socket bound to 0.0.0.0, and not one bound to 127.0.0.1.
    const elsewhere = (port: number) =>
      new Promise<string>((resolve) => {
        const socket = connect(port, '127.0.0.2');
        socket.once('connect', () => {
          socket.destroy();
          resolve('connected');
        });
        socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      });
    const reached = Object.fromEntries(
      await Promise.all(Object.entries(ports).map(async ([app, port]) => [app, await elsewhere(port)])),
    );
    expect(reached).toEqual({ api: 'ECONNREFUSED', gateway: 'ECONNREFUSED', worker: 'ECONNREFUSED' });

    for (const [app, port] of Object.entries(ports)) {
      const open = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(open.status, app).toBe(401);
      expect(open.headers.get('content-type'), app).toBe('application/problem+json; charset=utf-8');
      expect(await open.json(), app).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
      const wrong = await fetch(`http://127.0.0.1:${port}/metrics`, {
        headers: { authorization: `Bearer ${metricsToken.slice(0, -1)}` },
      });
      expect(wrong.status, app).toBe(401);
      await wrong.arrayBuffer();
      const scraped = await fetch(`http://127.0.0.1:${port}/metrics`, {
        headers: { authorization: `Bearer ${metricsToken}` },
      });
      expect(scraped.status, app).toBe(200);
      expect(await scraped.text(), app).toContain(`process_cpu_user_seconds_total{app="${app}"}`);
      // Probes carry no token.
      expect((await fetch(`http://127.0.0.1:${port}/health/live`)).status, app).toBe(200);
    }
  });
});
