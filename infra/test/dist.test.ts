import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '@crucible/db/testing';
import { APPS, REPO_ROOT, dockerfile, probeTargets } from './deploy-files.js';
import type { AppName } from './deploy-files.js';

/**
 * The `pnpm build` output of each app, assembled into a folder by the image's own `pnpm deploy`
 * command (production dependencies only), started the way its CMD starts it (NODE_ENV=production),
 * and deployed the way compose and Kubernetes deploy it: a one-shot migrate job, then apps with
 * MIGRATE_ON_START=false.
 */

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

class BuiltProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    cwd: string,
    args: string[],
    env: Record<string, string>,
  ) {
    this.child = spawn(process.execPath, args, {
      cwd,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    // 'close', not 'exit': the last log lines may still be in the pipe when the process exits.
    this.exited = new Promise((resolve) => this.child.once('close', (code) => resolve(code)));
  }

  /** Every stdout line, parsed: production logs are one JSON object per line. */
  logLines(): Record<string, unknown>[] {
    return this.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(): Promise<number | null> {
    if (this.running()) this.child.kill('SIGTERM');
    return this.exited;
  }
}

async function status(url: string): Promise<{ code: number; body: any }> {
  try {
    const res = await fetch(url);
    const text = await res.text();
    return {
      code: res.status,
      body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text,
    };
  } catch {
    return { code: 0, body: null };
  }
}

describe('built apps (pnpm build output) run like their images', () => {
  const prefix = `t-${randomUUID()}`;
  const procs: BuiltProcess[] = [];
  const ports = {} as Record<AppName, number>;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let env: Record<string, string>;
  let target: Server;
  let releaseTarget: () => void = () => {};
  let targetHit: Promise<void>;

  const deployRoot = mkdtempSync(join(tmpdir(), 'crucible-deploy-'));
  const deployed = (app: AppName) => join(deployRoot, app);

  function start(app: AppName | 'migrate'): BuiltProcess {
    const image = app === 'migrate' ? 'api' : app;
    const cmd = app === 'migrate' ? ['node', '--enable-source-maps', 'dist/migrate.js'] : dockerfile(app).cmd;
    const proc = new BuiltProcess(app, deployed(image), cmd.slice(1), env);
    procs.push(proc);
    return proc;
  }

  const url = (app: AppName, path: string) => `http://127.0.0.1:${ports[app]}${path}`;

  beforeAll(async () => {
    // /app of each image: the build output and the production dependencies, nothing else.
    await Promise.all(
      APPS.map(async (app) => {
        if (!existsSync(`${REPO_ROOT}apps/${app}/dist/main.js`)) {
          throw new Error(`apps/${app}/dist is missing: run pnpm build (turbo runs it before this test)`);
        }
        const flags = dockerfile(app).deployFlags;
        await promisify(execFile)(
          'pnpm',
          [`--filter=@crucible/${app}`, 'deploy', ...flags, '--prefer-offline', deployed(app)],
          {
            cwd: REPO_ROOT,
          },
        );
      }),
    );

    // The test site: holds its answer until the test lets it go, so a test is surely running.
    let hit: () => void;
    targetHit = new Promise((resolve) => (hit = resolve));
    const released = new Promise<void>((resolve) => (releaseTarget = resolve));
    target = createServer((_req, res) => {
      hit();
      void released.then(() => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><html><head><title>t</title></head><body>ok</body></html>');
      });
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));

    database = await createTestDatabase();
    for (const app of APPS) ports[app] = await freePort();
    env = {
      NODE_ENV: 'production',
      DATABASE_URL: database.url,
      REDIS_URL,
      JWT_SECRET: 'dist-test-secret-dist-test-secret-0123456789',
      CRUCIBLE_PREFIX: prefix,
      HOST: '127.0.0.1',
      PORT: String(ports.api),
      GATEWAY_PORT: String(ports.gateway),
      WORKER_HEALTH_PORT: String(ports.worker),
      MIGRATE_ON_START: 'false',
      LOG_LEVEL: 'info',
      TARGET_ALLOWLIST: '127.0.0.1',
      // The test's user registers itself (the api's default asks for an invitation).
      REGISTRATION: 'open',
    };
  });

  afterAll(async () => {
    releaseTarget();
    await Promise.all(procs.map((p) => p.stop()));
    target?.close();
    await database?.drop();
    rmSync(deployRoot, { recursive: true, force: true });
    const redis = new Redis(REDIS_URL);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  });

  it('waits for the migrate job, then answers every probe the deployment files aim at it', async () => {
    const apps = Object.fromEntries(APPS.map((app) => [app, start(app)])) as Record<AppName, BuiltProcess>;

    // Up but not ready: the schema is not there yet.
    for (const app of APPS) {
      await expect
        .poll(async () => (await status(url(app, '/health/ready'))).body?.checks?.migrations, {
          timeout: 30_000,
        })
        .toBe(false);
      expect((await status(url(app, '/health/ready'))).code).toBe(503);
      expect((await status(url(app, '/health/live'))).code).toBe(200);
    }

    const migrate = start('migrate');
    expect(await migrate.exited).toBe(0);
    expect(migrate.logLines().at(-1)).toMatchObject({
      name: 'migrate',
      msg: 'database is at the latest migration',
    });

    for (const app of APPS) {
      await expect
        .poll(async () => (await status(url(app, '/health/ready'))).code, { timeout: 30_000 })
        .toBe(200);
      for (const probe of probeTargets(app)) {
        expect((await status(url(app, probe.path))).code, `${app} ${probe.source} ${probe.path}`).toBe(200);
      }
      expect(apps[app].running()).toBe(true);
    }
    await expect
      .poll(() => apps.worker.logLines().some((l) => l.msg === 'worker ready'), { timeout: 30_000 })
      .toBe(true);

    // Files the bundle loads from its dependencies at run time: the API docs, the queue board, the dashboard.
    expect((await status(url('api', '/docs/json'))).body.openapi).toBe('3.1.0');
    expect((await status(url('api', '/docs/static/swagger-ui.css'))).code).toBe(200);
    expect((await status(url('api', '/admin/queues/login'))).code).toBe(200);
    expect((await status(url('api', '/'))).body).toMatch(/^<!doctype html>/i);

    const metrics = {
      api: (await status(url('api', '/metrics'))).body as string,
      worker: (await status(url('worker', '/metrics'))).body as string,
      gateway: (await status(url('gateway', '/metrics'))).body as string,
    };
    expect(metrics.api).toMatch(/^crucible_queue_jobs\{queue="tests",state="waiting",app="api"\} 0$/m);
    expect(metrics.api).toMatch(/^http_request_duration_seconds_count\{.*route="\/health\/ready".*\} \d+$/m);
    expect(metrics.worker).toContain('# TYPE crucible_jobs_completed_total counter');
    expect(metrics.worker).toContain('# TYPE crucible_job_duration_seconds histogram');
    expect(metrics.gateway).toMatch(/^crucible_gateway_connections\{app="gateway"\} 0$/m);
    // One gauge of open sockets, not two names for the same count.
    expect(metrics.gateway).not.toContain('crucible_ws_connections');
  });

  it('drains on SIGTERM: the running test finishes, sockets close with 1001, every process exits 0', async () => {
    const [api, worker, gateway] = APPS.map((app) => procs.find((p) => p.name === app)!);
    const register = await fetch(url('api', '/api/auth/register'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'drain@example.com', password: 'a long enough password' }),
    });
    expect(register.status).toBe(201);
    const { token } = (await register.json()) as { token: string };
    const auth = { authorization: `Bearer ${token}` };

    const socket = new WebSocket(`ws://127.0.0.1:${ports.gateway}/ws?token=${token}`);
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    await expect
      .poll(async () => (await status(url('gateway', '/metrics'))).body, { timeout: 30_000 })
      .toMatch(/^crucible_gateway_connections\{app="gateway"\} 1$/m);
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));

    const submitted = await fetch(url('api', '/api/test/run'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({
        testType: 'performance',
        url: `http://127.0.0.1:${(target.address() as { port: number }).port}/`,
        config: { iterations: 1 },
      }),
    });
    expect(submitted.status).toBe(202);
    const { testId } = (await submitted.json()) as { testId: string };
    await targetHit;

    // SIGTERM while the test waits on its target; the worker drains instead of dropping it.
    worker!.child.kill('SIGTERM');
    await expect
      .poll(() => worker!.logLines().some((l) => l.msg === 'shutting down'), { timeout: 30_000 })
      .toBe(true);
    expect(worker!.running()).toBe(true);
    releaseTarget();
    expect(await worker!.exited).toBe(0);
    const test = await fetch(url('api', `/api/test/queue/jobs/${testId}`), { headers: auth });
    expect(await test.json()).toMatchObject({ testId, status: 'completed' });

    expect(await gateway!.stop()).toBe(0);
    expect(await closed).toBe(1001);
    expect(await api!.stop()).toBe(0);

    for (const proc of [api!, worker!, gateway!]) {
      const lines = proc.logLines();
      expect(lines.every((l) => l.name === proc.name)).toBe(true);
      expect(lines.at(-1)).toMatchObject({ msg: 'stopped', exitCode: 0 });
      expect(proc.stderr).toBe('');
    }
    expect(worker!.logLines().filter((l) => l.level === 50 || l.level === 60)).toEqual([]);
  });
});
