// @vitest-environment node
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '@crucible/db/testing';
import { REDIS_URL, REPO_ROOT, deletePrefix, freePort, startAllInOne, waitForReady } from './server';
import type { ServerProcess } from './server';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = join(REPO_ROOT, 'test-output', 'dashboard');
const PASSWORD = 'a long enough password';

/**
 * The dashboard in a real browser against the all-in-one server (its own database and Redis
 * prefix) and a local target site.
 */
describe('the dashboard in a browser', () => {
  const prefix = `t-${randomUUID()}`;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let server: ServerProcess;
  let target: Server;
  let targetUrl: string;
  let origin: string;
  let browser: Browser;
  let dataDir: string;

  beforeAll(async () => {
    await build({ root: join(REPO_ROOT, 'apps/web'), logLevel: 'warn' });
    target = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><html lang="en"><head><title>target</title></head><body>hello</body></html>');
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    targetUrl = `http://127.0.0.1:${(target.address() as { port: number }).port}/`;

    database = await createTestDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'crucible-web-e2e-'));
    const port = await freePort();
    server = startAllInOne({
      DATABASE_URL: database.url,
      REDIS_URL,
      JWT_SECRET: 'test-secret-test-secret-test-secret-0123',
      CRUCIBLE_PREFIX: prefix,
      CRUCIBLE_DATA_DIR: dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      TARGET_ALLOWLIST: '127.0.0.1',
    });
    origin = `http://127.0.0.1:${port}`;
    await waitForReady(`${origin}/health/ready`, server);

    mkdirSync(SHOTS, { recursive: true });
    // A fresh temporary profile; each user below gets a context of their own (own storage).
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    const code = await server?.stop();
    target?.close();
    await database?.drop();
    const redis = new Redis(REDIS_URL);
    await deletePrefix(redis, prefix);
    redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
    expect(code).toBe(0);
  });

  async function signUp(page: Page, email: string) {
    await page.goto(`${origin}/signup`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
  }

  async function newUser(email: string, viewport = { width: 1200, height: 900 }): Promise<Page> {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    await signUp(page, email);
    return page;
  }

  it('signs up, runs a test with live progress, and keeps it from a second user', async () => {
    // The first account of a database is the admin, who may see everything: make it elsewhere.
    const admin = await fetch(`${origin}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'admin@example.com', password: PASSWORD }),
    });
    expect(admin.status).toBe(201);

    const alice = await newUser('alice@example.com');

    await alice.goto(`${origin}/new`);
    await alice.getByLabel('URL to test').fill('not a url');
    await alice.getByLabel('Iterations').fill('99');
    await alice.getByRole('button', { name: 'Run performance test' }).click();
    // The catalogue's own bounds and messages, before anything is sent.
    await expect
      .poll(() => alice.locator('#f-iterations-error').textContent())
      .toBe('Expected integer to be less or equal to 20');
    await expect.poll(() => alice.locator('#f-url-error').textContent()).toContain('absolute URL');
    await alice.screenshot({ path: join(SHOTS, 'new-test-errors.png'), fullPage: true });

    await alice.getByLabel('URL to test').fill(targetUrl);
    await alice.getByLabel('Iterations').fill('4');
    await alice.getByRole('button', { name: 'Run performance test' }).click();
    await alice.waitForURL(/\/tests\/[0-9a-f-]{36}$/);
    const testUrl = alice.url();

    await expect
      .poll(() => alice.locator('.chip').first().textContent(), { timeout: 60_000 })
      .toBe('completed');
    await expect.poll(() => alice.locator('.waterfall li').count()).toBe(4);
    expect(await alice.locator('progress').getAttribute('value')).toBe('100');
    await alice.screenshot({ path: join(SHOTS, 'test-page.png'), fullPage: true });

    // A second user: the test is not theirs, so it does not exist for them.
    const bob = await newUser('bob@example.com');
    await bob.goto(testUrl);
    await expect.poll(() => bob.getByRole('alert').textContent()).toBe('Test not found.');
    await bob.screenshot({ path: join(SHOTS, 'other-user.png'), fullPage: true });
    expect(await bob.getByRole('link', { name: 'Admin' }).count()).toBe(0);

    // The admin signs in and sees every user and the API's cache counters.
    const root = await (await browser.newContext()).newPage();
    await root.goto(`${origin}/signin`);
    await root.getByLabel('Email').fill('admin@example.com');
    await root.getByLabel('Password').fill(PASSWORD);
    await root.getByRole('button', { name: 'Sign in' }).click();
    await root.getByRole('link', { name: 'Admin' }).click();
    const users = root.getByRole('region', { name: /^Users/ });
    await expect.poll(() => users.locator('tbody tr td:first-child').allTextContents()).toEqual([
      'bob@example.com',
      'alice@example.com',
      'admin@example.com',
    ]);
    await root.getByRole('heading', { name: 'API cache (this process)' }).waitFor();
    await root.screenshot({ path: join(SHOTS, 'admin.png'), fullPage: true });
  });
});
