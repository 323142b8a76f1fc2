// @vitest-environment node
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '@crucible/db/testing';
import { FrontDoor } from './proxy';
import {
  REDIS_URL,
  REPO_ROOT,
  deletePrefix,
  freePort,
  launchChromium,
  startApp,
  waitForReady,
} from './server';
import type { ServerProcess } from './server';

const SHOTS = join(REPO_ROOT, 'test-output', 'recovery');
/**
 * The lock duration of every process (`WORKER_LOCK_DURATION_MS`): how soon a killed worker's test
 * is presumed lost and shown stalled. Short, so the test waits seconds, not half a minute; long
 * enough that a live worker on a busy machine still renews its lock in time.
 */
const LOCK_MS = 4_000;
const ITERATIONS = 20;

/**
 * What an open test page shows when the worker running its test dies (`kill -9`): "stalled" by
 * itself once nothing has moved for the lock duration, then, when another worker takes the test
 * up, "worker lost — attempt 2 of 3 starting" with the progress back at 0 %, and the result of the
 * attempt that finishes. Distributed mode, as in production: api, gateway and worker processes
 * behind one origin, the worker a process of its own that can be killed.
 */
describe('an open test page when its worker is killed', { timeout: 240_000 }, () => {
  const prefix = `t-${randomUUID()}`;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const procs: ServerProcess[] = [];
  let env: Record<string, string>;
  let door: FrontDoor;
  let origin: string;
  let target: Server;
  let targetUrl: string;
  let browser: Browser;
  /** The worker that runs the first attempt, and is killed. */
  let firstWorker: ServerProcess;
  /** How the target answers: slowly (a test of it is mid-run for seconds), not at all, or at once. */
  let pace: 'slow' | 'held' | 'fast' = 'slow';
  const held = new Set<() => void>();

  beforeAll(async () => {
    target = createServer((_req, res) => {
      const answer = () => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><html lang="en"><head><title>target</title></head><body>hello</body></html>');
      };
      if (pace === 'fast') return answer();
      if (pace === 'held') return void held.add(answer);
      const timer = setTimeout(answer, 700);
      res.on('close', () => clearTimeout(timer));
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    targetUrl = `http://127.0.0.1:${(target.address() as { port: number }).port}/`;

    database = await createTestDatabase();
    const [apiPort, gatewayPort] = [await freePort(), await freePort()];
    env = {
      DATABASE_URL: database.url,
      REDIS_URL,
      JWT_SECRET: 'test-secret-test-secret-test-secret-0123',
      CRUCIBLE_PREFIX: prefix,
      PORT: String(apiPort),
      GATEWAY_PORT: String(gatewayPort),
      HOST: '127.0.0.1',
      TARGET_ALLOWLIST: '127.0.0.1',
      REGISTRATION: 'open',
      // The api reads it too: it says "stalled" when a worker's lock would have run out.
      WORKER_LOCK_DURATION_MS: String(LOCK_MS),
    };
    const api = startApp('apps/api/src/main.ts', env);
    const gateway = startApp('apps/gateway/src/main.ts', env);
    procs.push(api, gateway);
    // The api builds the dashboard first when its sources changed, one process at a time.
    [firstWorker] = await Promise.all([
      startWorker(),
      waitForReady(`http://127.0.0.1:${apiPort}/health/ready`, api, 110_000),
      waitForReady(`http://127.0.0.1:${gatewayPort}/health/ready`, gateway, 110_000),
    ]);
    door = new FrontDoor({ api: apiPort, gateway: gatewayPort });
    origin = `http://127.0.0.1:${await door.listen()}`;

    mkdirSync(SHOTS, { recursive: true });
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await door?.close();
    for (const answer of held) answer();
    const codes = await Promise.all(procs.map((p) => p.stop()));
    target?.closeAllConnections();
    target?.close();
    await database?.drop();
    const redis = new Redis(REDIS_URL);
    await deletePrefix(redis, prefix);
    redis.disconnect();
    // Every process still alive stops cleanly (the killed worker was taken out of the list).
    expect(codes).toEqual(procs.map(() => 0));
  }, 60_000);

  async function startWorker(): Promise<ServerProcess> {
    const healthPort = await freePort();
    const worker = startApp('apps/worker/src/main.ts', {
      ...env,
      WORKER_HEALTH_PORT: String(healthPort),
      WORKER_CONCURRENCY: '1',
    });
    procs.push(worker);
    await waitForReady(`http://127.0.0.1:${healthPort}/health/ready`, worker, 110_000);
    return worker;
  }

  const progressOf = async (page: Page) => Number(await page.locator('progress').getAttribute('value'));
  const chip = (page: Page) => page.locator('h1 .chip').first().textContent();

  it('says "stalled" without a reload, then "worker lost — attempt 2 of 3 starting" at 0 %, then finishes', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1200, height: 900 } })).newPage();
    await page.goto(`${origin}/signup`);
    await page.getByLabel('Email').fill('alice@example.com');
    await page.getByLabel('Password').fill('a long enough password');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    const token = (await page.evaluate(() => JSON.parse(localStorage.getItem('crucible.session')!)))
      .token as string;
    const submitted = await fetch(`${origin}/api/test/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        testType: 'performance',
        url: targetUrl,
        config: { iterations: ITERATIONS, timeoutMs: 60_000 },
      }),
    });
    expect(submitted.status).toBe(202);
    const { testId } = (await submitted.json()) as { testId: string };

    // The page is open while the first attempt runs.
    await page.goto(`${origin}/tests/${testId}`);
    await expect.poll(() => progressOf(page), { timeout: 60_000 }).toBeGreaterThanOrEqual(10);
    expect(await chip(page)).toBe('running');
    expect(await page.getByTestId('stalled').count()).toBe(0);

    // kill -9: the worker says nothing more, and nobody takes the test up yet.
    procs.splice(procs.indexOf(firstWorker), 1);
    await firstWorker.stop('SIGKILL');
    const progressAtKill = await progressOf(page);
    expect(progressAtKill).toBeLessThan(100);
    await page.getByText('stalled — waiting for recovery').waitFor({ timeout: 60_000 });
    expect(await chip(page)).toBe('running');
    // The bar stays where the attempt got to (the row's own progress may trail it by a write).
    expect(await progressOf(page)).toBeGreaterThanOrEqual(Math.max(10, progressAtKill));
    await page.screenshot({ path: join(SHOTS, 'test-page-stalled.png'), fullPage: true });

    // Another worker takes the test up; the target holds its requests, so the new attempt stays at 0 %.
    pace = 'held';
    await startWorker();
    const notice = page.getByTestId('attempt-notice');
    await notice.waitFor({ timeout: 90_000 });
    expect(await notice.textContent()).toBe('worker lost — attempt 2 of 3 starting');
    expect(await progressOf(page)).toBe(0);
    expect(await page.locator('.progress-head').textContent()).toContain('0%');
    expect(await page.getByText('stalled — waiting for recovery').count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'test-page-worker-lost.png'), fullPage: true });

    // The new attempt goes on, and is the one that finishes.
    pace = 'fast';
    for (const answer of held) answer();
    held.clear();
    await expect.poll(() => chip(page), { timeout: 90_000 }).toBe('completed');
    expect(await progressOf(page)).toBe(100);
    expect(await notice.count()).toBe(0);
    const attempts = page.locator('section[aria-labelledby="attempts-heading"] tbody tr td:nth-child(3)');
    await expect.poll(() => attempts.allTextContents()).toEqual(['lost', 'completed']);
  });
});
