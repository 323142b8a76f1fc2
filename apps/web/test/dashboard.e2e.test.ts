// @vitest-environment node
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '@crucible/db/testing';
import { DroppingProxy } from './proxy';
import {
  REDIS_URL,
  REPO_ROOT,
  deletePrefix,
  freePort,
  launchChromium,
  startAllInOne,
  waitForReady,
} from './server';
import type { ServerProcess } from './server';

const SHOTS = join(REPO_ROOT, 'test-output', 'dashboard');
const PASSWORD = 'a long enough password';
const STRESS_SECONDS = 6;

/**
 * The dashboard in a real browser against the all-in-one server (its own database and Redis
 * prefix) and a local target site. The browser reaches the server through a relay that the test
 * can cut, to drop the WebSocket for real. The steps build on each other, in order.
 */
describe('the dashboard in a browser', { timeout: 180_000 }, () => {
  const prefix = `t-${randomUUID()}`;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let server: ServerProcess;
  let proxy: DroppingProxy;
  let target: Server;
  let targetUrl: string;
  let serverOrigin: string;
  let origin: string;
  let browser: Browser;
  let dataDir: string;
  let alice: Page;
  /** The first account's: everyone after it signs up with an invitation (REGISTRATION unset). */
  let adminToken: string;
  let stressUrl: string;
  let perfUrl: string;

  beforeAll(async () => {
    target = createServer((req, res) => {
      // /slow answers only after a long while: a test of it stays running until cancelled.
      const delay = req.url?.startsWith('/slow') ? 20_000 : 0;
      const timer = setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><html lang="en"><head><title>target</title></head><body>hello</body></html>');
      }, delay);
      res.on('close', () => clearTimeout(timer));
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
    serverOrigin = `http://127.0.0.1:${port}`;
    // The server builds the dashboard first when its sources changed, one process at a time.
    await waitForReady(`${serverOrigin}/health/ready`, server, 110_000);
    proxy = new DroppingProxy(port);
    origin = `http://127.0.0.1:${await proxy.listen()}`;

    mkdirSync(SHOTS, { recursive: true });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    const code = await server?.stop();
    target?.closeAllConnections();
    target?.close();
    await database?.drop();
    const redis = new Redis(REDIS_URL);
    await deletePrefix(redis, prefix);
    redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
    expect(code).toBe(0);
  });

  /** Signs up through an invitation link, as anyone after the admin does. */
  async function signUp(page: Page, email: string) {
    const invited = await fetch(`${serverOrigin}/api/admin/invitations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ email }),
    });
    expect(invited.status).toBe(201);
    const { token } = (await invited.json()) as { token: string };
    await page.goto(`${origin}/signup?invite=${token}`);
    expect(await page.getByLabel('Invitation').inputValue()).toBe(token);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
  }

  async function newUser(email: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    await signUp(page, email);
    return page;
  }

  const chip = (page: Page) => page.locator('h1 .chip').first().textContent();
  const chartPoints = async (page: Page) =>
    Number(await page.getByTestId('stress-charts').getAttribute('data-points'));

  it('runs a stress test whose charts fill every second, through a dropped connection', async () => {
    // The first account of a database is the admin, who may see everything: make it elsewhere.
    const admin = await fetch(`${serverOrigin}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'admin@example.com', password: PASSWORD }),
    });
    expect(admin.status).toBe(201);
    adminToken = ((await admin.json()) as { token: string }).token;
    alice = await newUser('alice@example.com');

    await alice.goto(`${origin}/new?type=stress`);
    await alice.getByLabel('URL to test').fill(targetUrl);
    await alice.getByLabel('Connections').fill('2');
    await alice.getByLabel('Duration (s)').fill(String(STRESS_SECONDS));
    await alice.getByRole('button', { name: 'Run stress test' }).click();
    await alice.waitForURL(/\/tests\/[0-9a-f-]{36}$/);
    stressUrl = alice.url();
    const testId = stressUrl.split('/').at(-1)!;

    // Points arrive while it runs.
    await expect.poll(() => chartPoints(alice), { timeout: 60_000 }).toBeGreaterThanOrEqual(2);
    expect(await chip(alice)).toBe('running');
    expect(await alice.getByTestId('stage').textContent()).toBe('load');

    // The connection drops: the page says so, and the test goes on without it.
    proxy.drop();
    await alice.getByTestId('connection-state').waitFor();
    expect(await alice.getByTestId('connection-state').textContent()).toBe('reconnecting…');
    const seenBefore = await chartPoints(alice);
    const token = (await alice.evaluate(() => JSON.parse(localStorage.getItem('crucible.session')!))).token;
    const finished = async () => {
      const res = await fetch(`${serverOrigin}/api/test/queue/jobs/${testId}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      return (await res.json()) as { status: string; result: { series: { second: number }[] } };
    };
    await expect.poll(async () => (await finished()).status, { timeout: 60_000 }).toBe('completed');
    expect(await chartPoints(alice)).toBe(seenBefore);

    // Back online: it resumes where it was and misses no second.
    proxy.resume();
    await expect.poll(() => chip(alice), { timeout: 30_000 }).toBe('completed');
    const seconds = (await finished()).result.series.map((s) => String(s.second));
    // Seconds were published while the page was cut off, and it has them all now.
    expect(seconds.length).toBeGreaterThan(seenBefore);
    await expect.poll(() => chartPoints(alice)).toBe(seconds.length);
    expect(
      await alice.locator('[data-testid="stress-charts"] tbody td:first-child').allTextContents(),
    ).toEqual(seconds);
    expect(await alice.getByTestId('connection-state').count()).toBe(0);
    await alice.getByRole('heading', { name: /^Summary/ }).waitFor();
    await alice.screenshot({ path: join(SHOTS, 'test-page-stress.png'), fullPage: true });

    // Kept after completion: a fresh load draws the same points.
    await alice.reload();
    await expect.poll(() => chartPoints(alice)).toBe(seconds.length);
  });

  it('checks a form with the catalogue’s messages, then shows a performance waterfall', async () => {
    await alice.goto(`${origin}/new`);
    await alice.getByLabel('URL to test').fill('not a url');
    await alice.getByLabel('Iterations').fill('99');
    await alice.getByRole('button', { name: 'Run performance test' }).click();
    await expect
      .poll(() => alice.locator('#f-iterations-error').textContent())
      .toBe('Expected integer to be less or equal to 20');
    await expect.poll(() => alice.locator('#f-url-error').textContent()).toContain('absolute URL');
    await alice.screenshot({ path: join(SHOTS, 'new-test-errors.png'), fullPage: true });

    await alice.getByLabel('URL to test').fill(targetUrl);
    await alice.getByLabel('Iterations').fill('4');
    await alice.getByRole('button', { name: 'Run performance test' }).click();
    await alice.waitForURL(/\/tests\/[0-9a-f-]{36}$/);
    perfUrl = alice.url();
    await expect.poll(() => chip(alice), { timeout: 60_000 }).toBe('completed');
    await expect.poll(() => alice.locator('.waterfall li').count()).toBe(4);
    expect(await alice.locator('progress').getAttribute('value')).toBe('100');
    await alice.screenshot({ path: join(SHOTS, 'test-page-performance.png'), fullPage: true });

    // Phone width: the page reads top to bottom without sideways scrolling.
    const phone = await alice.context().newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(stressUrl);
    await phone.getByRole('heading', { name: /^Summary/ }).waitFor();
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await phone.screenshot({ path: join(SHOTS, 'test-page-phone.png'), fullPage: true });
    await phone.close();
  });

  it('lists tests with live status chips and filters in the URL, and cancels a running one', async () => {
    await alice.goto(`${origin}/new`);
    await alice.getByLabel('URL to test').fill(`${targetUrl}slow`);
    await alice.getByLabel('Name (optional)').fill('slow one');
    await alice.getByRole('button', { name: 'Run performance test' }).click();
    await alice.waitForURL(/\/tests\/[0-9a-f-]{36}$/);
    await alice.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tests' }).click();
    await alice.waitForURL(`${origin}/tests`);
    const slowRow = alice.locator('tr', { hasText: 'slow one' });
    await expect.poll(() => slowRow.locator('.chip').textContent(), { timeout: 60_000 }).toBe('running');
    expect(await alice.locator('tbody tr').count()).toBe(3);
    await alice.screenshot({ path: join(SHOTS, 'tests.png'), fullPage: true });

    await slowRow.getByRole('button', { name: /^Cancel/ }).click();
    await expect.poll(() => slowRow.locator('.chip').textContent()).toBe('cancelled');
    expect(await slowRow.getByRole('button', { name: /^Retry/ }).count()).toBe(1);

    await alice.getByLabel('Status').selectOption('completed');
    await alice.waitForURL(`${origin}/tests?status=completed`);
    await expect.poll(() => alice.locator('tbody tr').count()).toBe(2);
    await alice.getByLabel('Type').selectOption('stress');
    await alice.waitForURL(`${origin}/tests?status=completed&type=stress`);
    await expect.poll(() => alice.locator('tbody tr').count()).toBe(1);

    await alice.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Queue' }).click();
    await expect.poll(() => alice.getByTestId('user-completed').locator('dd').textContent()).toBe('2');
    expect(await alice.getByTestId('user-cancelled').locator('dd').textContent()).toBe('1');
    await alice.screenshot({ path: join(SHOTS, 'queue.png'), fullPage: true });

    // A test submitted elsewhere (here over HTTP) moves the counts without a reload.
    const token = (await alice.evaluate(() => JSON.parse(localStorage.getItem('crucible.session')!))).token;
    const submitted = await fetch(`${serverOrigin}/api/test/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ testType: 'performance', url: targetUrl, config: { iterations: 1 } }),
    });
    expect(submitted.status).toBe(202);
    await expect
      .poll(() => alice.getByTestId('user-completed').locator('dd').textContent(), { timeout: 60_000 })
      .toBe('3');
  });

  it('shows failed checks in red beside "completed", and runs a test again as a new, linked one', async () => {
    const token = (await alice.evaluate(() => JSON.parse(localStorage.getItem('crucible.session')!))).token;
    const submitted = await fetch(`${serverOrigin}/api/test/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        testType: 'api',
        url: targetUrl,
        name: 'expects 201',
        config: { steps: [{ name: 'create', path: '/', assert: { status: 201 } }] },
      }),
    });
    expect(submitted.status).toBe(202);
    const { testId } = (await submitted.json()) as { testId: string };

    await alice.goto(`${origin}/tests`);
    const row = alice.locator(`[data-test-id="${testId}"]`);
    await expect.poll(() => row.locator('.verdict').textContent(), { timeout: 60_000 }).toBe('checks failed');
    expect(await row.locator('.chip').first().textContent()).toBe('completed');
    // Red, like a failed status.
    const red = await row.locator('.verdict').evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(red).toBe('rgb(185, 28, 28)');

    await row.getByRole('link', { name: 'expects 201' }).click();
    await alice.waitForURL(`${origin}/tests/${testId}`);
    expect(await alice.locator('h1 .verdict').textContent()).toBe('checks failed');
    await alice.screenshot({ path: join(SHOTS, 'test-page-failed-checks.png'), fullPage: true });

    // Run again: a new test; the first keeps its result and links to it.
    await alice.getByRole('button', { name: 'Run again' }).click();
    await alice.waitForURL(
      (url) => /\/tests\/[0-9a-f-]{36}$/.test(url.pathname) && !url.pathname.endsWith(testId),
    );
    const againId = alice.url().split('/').at(-1)!;
    await expect.poll(() => alice.getByTestId('rerun-of').getAttribute('href')).toBe(`/tests/${testId}`);
    await expect
      .poll(() => alice.locator('h1 .verdict').textContent(), { timeout: 60_000 })
      .toBe('checks failed');
    await alice.getByTestId('rerun-of').click();
    await alice.waitForURL(`${origin}/tests/${testId}`);
    await expect
      .poll(() => alice.getByTestId('reruns').locator('a').getAttribute('href'))
      .toBe(`/tests/${againId}`);
    expect(await alice.locator('h1 .chip').first().textContent()).toBe('completed');
  });

  it('shows a second user none of them', async () => {
    const bob = await newUser('bob@example.com');
    await bob.goto(`${origin}/tests`);
    await expect.poll(() => bob.getByText('No tests yet').count()).toBe(1);
    for (const url of [stressUrl, perfUrl]) {
      await bob.goto(url);
      await expect.poll(() => bob.getByRole('alert').textContent()).toBe('Test not found.');
    }
    await bob.screenshot({ path: join(SHOTS, 'other-user.png'), fullPage: true });
    expect(await bob.getByRole('link', { name: 'Admin' }).count()).toBe(0);
  });

  it('shows the admin every user and the API cache’s counters', async () => {
    const root = await (await browser.newContext()).newPage();
    await root.goto(`${origin}/signin`);
    await root.getByLabel('Email').fill('admin@example.com');
    await root.getByLabel('Password').fill(PASSWORD);
    await root.getByRole('button', { name: 'Sign in' }).click();
    await root.getByRole('link', { name: 'Admin' }).click();
    const users = root.getByRole('region', { name: /^Users/ });
    await expect
      .poll(() => users.locator('tbody tr td:first-child').allTextContents())
      .toEqual(['bob@example.com', 'alice@example.com', 'admin@example.com']);
    await root.getByRole('heading', { name: 'API cache (this process)' }).waitFor();
    await root.screenshot({ path: join(SHOTS, 'admin.png'), fullPage: true });
    // The all-in-one process serves bull-board too: the button opens it with the cookie it sets.
    const queues = root.waitForResponse((r) => new URL(r.url()).pathname === '/admin/queues/api/queues');
    await root.getByRole('button', { name: 'Open the queue dashboard' }).click();
    await root.waitForURL(`${origin}/admin/queues`);
    expect(await root.title()).toBe('Crucible queue');
    const listed = await queues;
    expect(listed.status()).toBe(200);
    expect(((await listed.json()) as { queues: { name: string }[] }).queues.map((q) => q.name)).toEqual([
      'tests',
      'browser',
    ]);
    await root.screenshot({ path: join(SHOTS, 'queue-board.png'), fullPage: true });
  });

  it('lets the admin invite someone: the link opens the sign-up form with the invitation, once', async () => {
    const root = await (await browser.newContext()).newPage();
    await root.goto(`${origin}/signin`);
    await root.getByLabel('Email').fill('admin@example.com');
    await root.getByLabel('Password').fill(PASSWORD);
    await root.getByRole('button', { name: 'Sign in' }).click();
    await root.getByRole('link', { name: 'Admin' }).click();
    const invitations = root.getByRole('region', { name: 'Invitations' });
    await invitations.getByLabel('For this email only (optional)').fill('carol@example.com');
    await invitations.getByRole('button', { name: 'Create invitation' }).click();
    const link = (await invitations.getByTestId('invitation-link').textContent())!;
    expect(link).toMatch(new RegExp(`^${origin}/signup\\?invite=inv_[A-Za-z0-9_-]{43}$`));
    await invitations.getByRole('button', { name: 'Create invitation' }).click();
    await expect
      .poll(() => invitations.locator('tbody tr td:nth-child(2)').allTextContents())
      .toEqual(['pending', 'pending', 'used', 'used']);
    await root.screenshot({ path: join(SHOTS, 'invitations.png'), fullPage: true });
    await invitations.getByRole('button', { name: 'Revoke the invitation for anyone with the link' }).click();
    await expect
      .poll(() => invitations.locator('tbody tr td:nth-child(2)').allTextContents())
      .toEqual(['revoked', 'pending', 'used', 'used']);

    // Without an invitation nobody else gets in now that the admin exists.
    const stranger = await (await browser.newContext()).newPage();
    await stranger.goto(`${origin}/signup`);
    await stranger.getByLabel('Invitation').waitFor();

    const carol = await (await browser.newContext()).newPage();
    await carol.goto(link);
    await carol.getByLabel('Email').fill('carol@example.com');
    await carol.getByLabel('Password').fill(PASSWORD);
    await carol.getByRole('button', { name: 'Create account' }).click();
    await carol.getByRole('button', { name: 'Sign out' }).waitFor();
    // Used once: the same link refuses anyone after.
    await stranger.goto(link);
    await stranger.getByLabel('Email').fill('dave@example.com');
    await stranger.getByLabel('Password').fill(PASSWORD);
    await stranger.getByRole('button', { name: 'Create account' }).click();
    await expect
      .poll(() => stranger.getByRole('alert').textContent())
      .toBe('This invitation is unknown, used, revoked, expired or meant for another email');
  });

  it('shows where a user is signed in, signs one device out (its page too) and then every one', async () => {
    const phoneContext = await browser.newContext({
      viewport: { width: 390, height: 844 },
      userAgent:
        'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
    });
    const phone = await phoneContext.newPage();
    await phone.goto(`${origin}/signin`);
    await phone.getByLabel('Email').fill('alice@example.com');
    await phone.getByLabel('Password').fill(PASSWORD);
    await phone.getByRole('button', { name: 'Sign in' }).click();
    await phone.waitForURL(`${origin}/tests`);
    const tokenOf = async (page: Page) =>
      (await page.evaluate(() => JSON.parse(localStorage.getItem('crucible.session')!))).token as string;
    const me = async (token: string) =>
      (await fetch(`${serverOrigin}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } })).status;
    const [laptopToken, phoneToken] = [await tokenOf(alice), await tokenOf(phone)];

    await alice.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click();
    await alice.waitForURL(`${origin}/account`);
    const sessions = alice.getByRole('region', { name: 'Where you are signed in' });
    await expect
      .poll(() => sessions.locator('tbody tr td:first-child').allTextContents())
      .toContain('Safari 17 on iOS');
    expect(await sessions.locator('tbody tr').count()).toBe(2);
    expect(await sessions.locator('tbody tr', { hasText: 'now (this device)' }).count()).toBe(1);
    await alice.screenshot({ path: join(SHOTS, 'account.png'), fullPage: true });

    // The phone is signed out from the laptop: its token stops working, and its open page goes to
    // the sign-in page by itself once the gateway closes its socket.
    await sessions.getByRole('button', { name: 'Sign out Safari 17 on iOS' }).click();
    await expect.poll(() => sessions.locator('tbody tr').count()).toBe(1);
    expect(await me(phoneToken)).toBe(401);
    await phone.waitForURL(`${origin}/signin`, { timeout: 60_000 });
    expect(await phone.evaluate(() => localStorage.getItem('crucible.session'))).toBeNull();

    alice.once('dialog', (dialog) => void dialog.accept());
    await sessions.getByRole('button', { name: 'Sign out everywhere' }).click();
    await alice.waitForURL(`${origin}/signin`);
    expect(await me(laptopToken)).toBe(401);
    await phoneContext.close();
  });

  it('ends the session on the server when the user signs out from the header', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${origin}/signin`);
    await page.getByLabel('Email').fill('bob@example.com');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${origin}/tests`);
    const token = (await page.evaluate(() => JSON.parse(localStorage.getItem('crucible.session')!))).token;
    const me = () => fetch(`${serverOrigin}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } });
    expect((await me()).status).toBe(200);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${origin}/signin`);
    expect((await me()).status).toBe(401);
  });
});
