import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '@crucible/db/testing';
import { REDIS_URL, SECRET, deletePrefix } from './helpers.js';
import { REPO_ROOT, freePort, waitForReady } from './processes.js';
import type { AppProcess } from './processes.js';

const BUILDING = 'building the dashboard (apps/web changed since its last build)';

/** A `pnpm <script>` run from the checkout, as a person starts it; stopped as a terminal's Ctrl-C would. */
function pnpm(script: string, env: Record<string, string>) {
  const child = spawn('pnpm', [script], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const proc: AppProcess = {
    name: `pnpm ${script}`,
    child,
    output: () => out,
    async stop(signal = 'SIGINT') {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, signal);
      return exited;
    },
  };
  return proc;
}

describe('starting the api from the checkout', () => {
  const stops: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
  }, 60_000);

  // Building once for two starts at once is src/dashboard-build.test.ts's, on a folder of its own:
  // rebuilding the checkout's dashboard here emptied apps/web/dist under the servers other suites
  // run beside this one.
  it('pnpm start:api from the checkout serves the dashboard pnpm test built, without building it again', async () => {
    const database = await createTestDatabase();
    const prefix = `t-${randomUUID()}`;
    stops.push(async () => {
      await database.drop();
      const redis = new Redis(REDIS_URL);
      await deletePrefix(redis, prefix);
      redis.disconnect();
    });
    const port = await freePort();
    const api = pnpm('start:api', {
      DATABASE_URL: database.url,
      REDIS_URL,
      JWT_SECRET: SECRET,
      CRUCIBLE_PREFIX: prefix,
      HOST: '127.0.0.1',
      PORT: String(port),
    });
    stops.push(() => api.stop());
    await waitForReady(`http://127.0.0.1:${port}/health/ready`, api, 150_000);
    expect(api.output()).not.toContain(BUILDING);
    const home = await fetch(`http://127.0.0.1:${port}/`);
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('<div id="app">');
  }, 240_000);
});
