import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '@crucible/db/testing';
import { REDIS_URL, SECRET, deletePrefix } from './helpers.js';
import { REPO_ROOT, freePort, waitForReady } from './processes.js';
import type { AppProcess } from './processes.js';

/** Where the dashboard build records what it was built from (see src/dashboard-build.ts). */
const BUILD_STAMP = join(REPO_ROOT, 'apps/web/node_modules/.cache/crucible/dashboard-build.json');
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

  it('two pnpm start:api at once from one checkout both start; the dashboard is built once, then reused', async () => {
    const database = await createTestDatabase();
    const prefix = `t-${randomUUID()}`;
    stops.push(async () => {
      await database.drop();
      const redis = new Redis(REDIS_URL);
      await deletePrefix(redis, prefix);
      redis.disconnect();
    });
    const distributed = {
      DATABASE_URL: database.url,
      REDIS_URL,
      JWT_SECRET: SECRET,
      CRUCIBLE_PREFIX: prefix,
      HOST: '127.0.0.1',
    };
    // As after a change to apps/web: the next start must build.
    rmSync(BUILD_STAMP, { force: true });
    const ports = [await freePort(), await freePort()];
    const apis = ports.map((port) => pnpm('start:api', { ...distributed, PORT: String(port) }));
    for (const api of apis) stops.push(() => api.stop());
    await Promise.all(
      apis.map((api, i) => waitForReady(`http://127.0.0.1:${ports[i]}/health/ready`, api, 150_000)),
    );
    for (const port of ports) {
      const home = await fetch(`http://127.0.0.1:${port}/`);
      expect(home.status).toBe(200);
      expect(await home.text()).toContain('<div id="app">');
    }
    expect(apis.filter((api) => api.output().includes(BUILDING))).toHaveLength(1);

    // Nothing changed since: the next start serves the same build without building.
    const port = await freePort();
    const again = pnpm('start:api', { ...distributed, PORT: String(port) });
    stops.push(() => again.stop());
    await waitForReady(`http://127.0.0.1:${port}/health/ready`, again, 60_000);
    expect(again.output()).not.toContain(BUILDING);
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
  }, 240_000);
});
