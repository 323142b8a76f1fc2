import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, boardQueue, freePort, openQueueBoard, WsClient } from '@crucible/api/testing';
import { ENTRY } from './entry.js';

/**
 * The README's start command, `pnpm start`, on a machine with nothing else: no DATABASE_URL, no
 * REDIS_URL, a fresh data folder. It runs in a process group of its own so that SIGKILL reaches
 * everything it started, as a crash would.
 */
class Crucible {
  child!: ChildProcess;
  output = '';
  exited!: Promise<number | null>;

  constructor(readonly env: Record<string, string>) {}

  start() {
    this.output = '';
    this.child = spawn('pnpm', ['start'], {
      cwd: REPO_ROOT,
      detached: true,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /**
   * SIGKILL ends the whole group at once. SIGTERM goes to the app's Node.js process alone, as an
   * orchestrator would send it; pnpm then exits with the app's exit code.
   */
  async stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    if (signal === 'SIGKILL') {
      process.kill(-this.child.pid!, signal);
    } else {
      const ps = spawnSync('ps', ['-e', '-o', 'pgid=,pid=,args='], { encoding: 'utf8' });
      const app = ps.stdout
        .split('\n')
        .map((line) => line.trim().split(/\s+/))
        .find(
          ([pgid, , cmd, ...args]) =>
            Number(pgid) === this.child.pid && /node$/.test(cmd ?? '') && args.includes(ENTRY),
        );
      process.kill(Number(app![1]), signal);
    }
    return this.exited;
  }
}

describe('end to end: pnpm start in embedded mode (no PostgreSQL, no Redis)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'crucible-embedded-'));
  let target: Server;
  let targetUrl: string;
  /** Requests to /hold wait here until released: a test that is running when the process dies. */
  const held: ServerResponse[] = [];
  let holding = true;
  let crucible: Crucible;
  let apiUrl: string;
  let wsUrl: string;

  beforeAll(async () => {
    const page = (res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><html><head><title>target</title></head><body>hello</body></html>');
    };
    target = createServer((req: IncomingMessage, res) => {
      if (req.url === '/hold' && holding) held.push(res);
      else page(res);
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    targetUrl = `http://127.0.0.1:${(target.address() as { port: number }).port}`;
    const port = await freePort();
    apiUrl = `http://127.0.0.1:${port}`;
    wsUrl = `ws://127.0.0.1:${port}/ws`;
    crucible = new Crucible({
      // Empty is unset: whatever the machine has, this run has no services.
      DATABASE_URL: '',
      REDIS_URL: '',
      JWT_SECRET: '',
      TARGET_ALLOWLIST: '',
      CRUCIBLE_DATA_DIR: dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      // A second user registers itself; invitations have their own tests.
      REGISTRATION: 'open',
      WORKER_CONCURRENCY: '1',
      LOG_LEVEL: 'warn',
    });
  });

  afterAll(async () => {
    await crucible?.stop('SIGKILL');
    for (const res of held) res.destroy();
    target?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  async function ready(timeoutMs = 180_000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (crucible.child.exitCode !== null) throw new Error(`crucible exited early:\n${crucible.output}`);
      const res = await fetch(`${apiUrl}/health/ready`).catch(() => undefined);
      if (res?.status === 200) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`not ready:\n${crucible.output}`);
  }

  async function call(method: string, path: string, token?: string, body?: object) {
    const res = await fetch(`${apiUrl}${path}`, {
      method,
      headers: {
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }

  const submit = (token: string, path: string) =>
    call('POST', '/api/test/run', token, {
      testType: 'performance',
      url: `${targetUrl}${path}`,
      config: { iterations: 2, timeoutMs: 60_000 },
    });
  const statusOf = async (token: string, testId: string) =>
    (await call('GET', `/api/test/queue/jobs/${testId}`, token)).body.status as string;

  /** Subscribes from offset 0 and waits for the test's last event. */
  async function watch(token: string, testId: string, timeout = 60_000) {
    const client = new WsClient(`${wsUrl}?token=${token}`);
    await client.opened();
    const channel = `test-progress-${testId}`;
    client.send({ type: 'subscribe', channel, since: { offset: 0 } });
    await expect
      .poll(() => client.events(channel).some((f) => f.event === 'test:completed'), { timeout })
      .toBe(true);
    client.close();
    return client.events(channel);
  }

  it('runs tests, survives SIGKILL with one running and one queued: after a restart both run, the lost one again; admins see the jobs in bull-board', async () => {
    crucible.start();
    await ready();
    expect(crucible.output).toContain(`mode: embedded: data in ${dataDir}`);
    expect(crucible.output).toContain('127.0.0.0/8');
    expect(crucible.output).toContain('distributed mode: set DATABASE_URL, REDIS_URL');

    const registered = await call('POST', '/api/auth/register', undefined, {
      email: 'me@example.com',
      password: 'a long enough password',
    });
    expect(registered.status).toBe(201);
    expect(registered.body.user.role).toBe('admin');
    const token = registered.body.token as string;

    // A local target is allowed by default, and its progress streams over the WebSocket.
    const first = await submit(token, '/');
    expect(first.status).toBe(202);
    const events = await watch(token, first.body.testId);
    expect(events.map((e) => e.event)).toEqual([
      'test:started',
      'test:progress',
      'test:progress',
      'test:completed',
    ]);
    expect(events.map((e) => e.offset)).toEqual([1, 2, 3, 4]);
    // The gateway's series are on the process's one /metrics, beside the API's.
    const metrics = await fetch(`${apiUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^crucible_gateway_messages_out_total\{app="all-in-one"\} [1-9]/m);

    // One test running (its target does not answer yet), one queued behind it (concurrency 1).
    const running = (await submit(token, '/hold')).body.testId as string;
    await expect.poll(() => statusOf(token, running), { timeout: 60_000 }).toBe('running');
    await expect.poll(() => held.length, { timeout: 60_000 }).toBeGreaterThan(0);
    const queued = (await submit(token, '/')).body.testId as string;
    expect(await statusOf(token, queued)).toBe('queued');

    await crucible.stop('SIGKILL');
    // The requests of the lost attempt stay unanswered; the next attempt's are answered at once.
    holding = false;
    crucible.start();
    await ready();

    // The secret and the data survived: the old token still works and the first result is there.
    const kept = await call('GET', `/api/test/queue/jobs/${first.body.testId}`, token);
    expect(kept.status).toBe(200);
    expect(kept.body).toMatchObject({ status: 'completed', progress: 100 });
    expect(JSON.stringify(kept.body.result)).toContain('"status":200');

    // The accepted, queued test runs after the restart, once.
    await expect.poll(() => statusOf(token, queued), { timeout: 120_000 }).toBe('completed');
    const ranOnce = (await call('GET', `/api/test/queue/jobs/${queued}`, token)).body;
    expect(ranOnce).toMatchObject({ retryCount: 0, errorMessage: null });
    expect(ranOnce.attempts.map((a: { status: string }) => a.status)).toEqual(['completed']);

    // The running one is the queue's lost worker, by the rule of distributed mode: its lock runs out,
    // BullMQ finds the job stalled and, as it stalled fewer than maxStalledCount times, runs it again.
    const retried = await watch(token, running, 240_000);
    expect(retried.map((e) => e.event)).toEqual([
      'test:started',
      'test:progress',
      'test:progress',
      'test:completed',
    ]);
    expect(retried[0]!.data).toMatchObject({ testId: running, attempt: 2 });
    const lost = (await call('GET', `/api/test/queue/jobs/${running}`, token)).body;
    expect(lost).toMatchObject({ status: 'completed', retryCount: 1, errorMessage: null });
    expect(lost.attempts.map((a: { status: string }) => a.status)).toEqual(['lost', 'completed']);
    expect(lost.attempts[0].errorMessage).toBe('the worker running this attempt was lost');

    // And new tests run as before.
    const again = await submit(token, '/');
    expect(again.status).toBe(202);
    const more = await watch(token, again.body.testId);
    expect(more.at(-1)!.event).toBe('test:completed');

    // bull-board reads BullMQ's PostgreSQL backend here: an admin sees the jobs, nobody else does.
    const other = await call('POST', '/api/auth/register', undefined, {
      email: 'other@example.com',
      password: 'a long enough password',
    });
    expect(other.body.user.role).toBe('user');
    expect((await openQueueBoard(apiUrl)).status).toBe(401);
    expect(await openQueueBoard(apiUrl, other.body.token)).toEqual({ status: 403, cookie: undefined });
    expect((await boardQueue(apiUrl, undefined)).status).toBe(401);
    const opened = await openQueueBoard(apiUrl, token);
    expect(opened.status).toBe(204);
    // BullMQ moves a job to completed just after the worker has published test:completed.
    await expect
      .poll(async () => {
        const board = await boardQueue(apiUrl, opened.cookie, 'completed');
        const ids = board.queue?.jobs.map((j) => j.id) ?? [];
        return [board.status, ids.includes(again.body.testId), ids.includes(queued)];
      })
      .toEqual([200, true, true]);
    const page = await fetch(`${apiUrl}/admin/queues`, {
      headers: { cookie: opened.cookie!, accept: 'text/html' },
    });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Crucible queue</title>');

    expect(await crucible.stop('SIGTERM')).toBe(0);
  }, 600_000);
});
