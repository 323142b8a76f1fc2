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

const SHOTS = join(REPO_ROOT, 'test-output', 'pages');
const PASSWORD = 'a long enough password';

/**
 * The dashboard's pages in a real browser against the all-in-one server (its own database and
 * Redis prefix) and a local target site: what an admin and a user see, on a desk and on a phone.
 */
describe('the dashboard’s pages', { timeout: 180_000 }, () => {
  const prefix = `t-${randomUUID()}`;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let server: ServerProcess;
  let target: Server;
  let targetUrl: string;
  let origin: string;
  let browser: Browser;
  let dataDir: string;

  beforeAll(async () => {
    target = createServer((req, res) => {
      // /slow answers only after a long while: a test of it stays running until cancelled.
      const delay = req.url?.startsWith('/slow') ? 20_000 : 0;
      const timer = setTimeout(() => {
        if (req.url?.startsWith('/missing')) return void res.writeHead(404).end();
        if (req.url === '/app.js')
          return void res.writeHead(200, { 'content-type': 'text/javascript' }).end('1');
        if (req.url === '/page') {
          res.writeHead(200, { 'content-type': 'text/html' });
          return void res.end(
            '<!doctype html><html lang="en"><head><title>a page</title><script src="/app.js"></script></head>' +
              '<body><img src="/missing.png" alt="x"><a href="/">home</a> <a href="/missing">gone</a></body></html>',
          );
        }
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><html lang="en"><head><title>target</title></head><body>hello</body></html>');
      }, delay);
      res.on('close', () => clearTimeout(timer));
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    targetUrl = `http://127.0.0.1:${(target.address() as { port: number }).port}/`;

    database = await createTestDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'crucible-web-pages-'));
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
      // Its users sign themselves up; invitations have their own tests.
      REGISTRATION: 'open',
    });
    origin = `http://127.0.0.1:${port}`;
    // The server builds the dashboard first when its sources changed, one process at a time.
    await waitForReady(`${origin}/health/ready`, server, 110_000);
    // The first account of a database is the admin.
    const admin = await fetch(`${origin}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'admin@example.com', password: PASSWORD }),
    });
    expect(admin.status).toBe(201);

    mkdirSync(SHOTS, { recursive: true });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
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

  /** A signed-in page of a new user (or of the admin), in a browser context of its own. */
  async function signedIn(email: string, viewport = { width: 1200, height: 900 }): Promise<Page> {
    const page = await (await browser.newContext({ viewport })).newPage();
    const existing = email === 'admin@example.com';
    await page.goto(`${origin}/${existing ? 'signin' : 'signup'}`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: existing ? 'Sign in' : 'Create account' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    return page;
  }

  const tokenOf = async (page: Page) =>
    (await page.evaluate(() => JSON.parse(localStorage.getItem('crucible.session')!))).token as string;

  async function submit(token: string, body: object): Promise<string> {
    const res = await fetch(`${origin}/api/test/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { testId: string }).testId;
  }

  async function settled(token: string, testId: string): Promise<string> {
    let status = '';
    await expect
      .poll(
        async () => {
          const res = await fetch(`${origin}/api/test/queue/jobs/${testId}`, {
            headers: { authorization: `Bearer ${token}` },
          });
          status = ((await res.json()) as { status: string }).status;
          return ['completed', 'failed', 'cancelled'].includes(status);
        },
        { timeout: 90_000 },
      )
      .toBe(true);
    return status;
  }

  it('shows a non-admin on /admin nothing but that it is for administrators', async () => {
    const carol = await signedIn('carol@example.com');
    await carol.goto(`${origin}/admin`);
    await expect.poll(() => carol.getByRole('alert').textContent()).toBe('Administrators only');
    expect(await carol.locator('main').innerText()).toBe('Admin\n\nAdministrators only');
    expect(await carol.locator('main button').count()).toBe(0);
    await carol.screenshot({ path: join(SHOTS, 'admin-non-admin.png'), fullPage: true });
    await carol.context().close();
  });

  it('loads nothing from outside its origin, on any page, the queue board included', async () => {
    const admin = await signedIn('admin@example.com');
    const token = await tokenOf(admin);
    const stress = await submit(token, {
      testType: 'stress',
      url: targetUrl,
      config: { connections: 1, durationSec: 2 },
    });
    const perf = await submit(token, { testType: 'performance', url: targetUrl, config: { iterations: 1 } });
    expect(await settled(token, stress)).toBe('completed');
    expect(await settled(token, perf)).toBe('completed');

    const outside: string[] = [];
    const refused: string[] = [];
    const context = admin.context();
    context.on('request', (r) => {
      const url = new URL(r.url());
      if (url.origin !== origin && url.protocol !== 'data:') outside.push(r.url());
    });
    const watch = (page: Page) => {
      page.on('websocket', (ws) => {
        if (new URL(ws.url()).host !== new URL(origin).host) outside.push(ws.url());
      });
      page.on('console', (m) => {
        if (m.text().includes('Content Security Policy')) refused.push(`${page.url()}: ${m.text()}`);
      });
      page.on('pageerror', (err) => refused.push(`${page.url()}: ${err.message}`));
    };
    watch(admin);
    const pages = [
      '/tests',
      ...['performance', 'stress', 'api', 'seo', 'security'].map((t) => `/new?type=${t}`),
      `/tests/${stress}`,
      `/tests/${perf}`,
      '/queue',
      '/keys',
      '/admin',
    ];
    for (const path of pages) {
      await admin.goto(`${origin}${path}`, { waitUntil: 'networkidle' });
      await admin.locator('main h1').first().waitFor();
      // uPlot draws into the page: its canvas and styles are loaded too.
      if (path === `/tests/${stress}`) {
        await admin.locator('.uplot canvas').first().waitFor();
        await admin.getByTestId('stress-charts').screenshot({ path: join(SHOTS, 'stress-charts-2s.png') });
      }
    }
    const queues = admin.waitForResponse((r) => new URL(r.url()).pathname === '/admin/queues/api/queues');
    await admin.goto(`${origin}/admin`);
    await admin.getByRole('button', { name: 'Open the queue dashboard' }).click();
    await admin.waitForURL(`${origin}/admin/queues`);
    expect((await queues).status()).toBe(200);
    await admin.waitForLoadState('networkidle');
    await admin.goto(`${origin}/admin/queues/queue/tests`, { waitUntil: 'networkidle' });

    const signedOut = await (await browser.newContext()).newPage();
    signedOut.context().on('request', (r) => {
      if (new URL(r.url()).origin !== origin) outside.push(r.url());
    });
    watch(signedOut);
    for (const path of ['/signin', '/signup', '/admin/queues/login']) {
      await signedOut.goto(`${origin}${path}`, { waitUntil: 'networkidle' });
    }
    // The board's sign-in page still works under its policy.
    await signedOut.getByLabel('Email').fill('admin@example.com');
    await signedOut.getByLabel('Password').fill(PASSWORD);
    await signedOut.getByRole('button', { name: 'Open the board' }).click();
    await signedOut.waitForURL(`${origin}/admin/queues`);
    await signedOut.waitForLoadState('networkidle');

    expect(outside).toEqual([]);
    expect(refused).toEqual([]);
    for (const path of ['/', '/tests', '/admin/queues/login']) {
      const res = await fetch(`${origin}${path}`);
      expect(res.headers.get('content-security-policy'), path).toMatch(/^default-src 'self'; /);
    }
    await signedOut.context().close();
    await admin.context().close();
  });

  async function cancel(token: string, testId: string): Promise<void> {
    const res = await fetch(`${origin}/api/test/${testId}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
  }

  it('shows the tests as cards on a phone, every Cancel and Retry button on screen', async () => {
    const dave = await signedIn('dave@example.com', { width: 390, height: 844 });
    const token = await tokenOf(dave);
    const long = `${targetUrl}slow/${'a-rather-long-path-segment/'.repeat(4)}`;
    const running = await submit(token, { testType: 'performance', url: long, name: 'slow and long' });
    const stopped = await submit(token, { testType: 'performance', url: `${targetUrl}slow` });
    await cancel(token, stopped);
    await dave.goto(`${origin}/tests`);
    const runningRow = dave.locator(`[data-test-id="${running}"]`);
    await expect.poll(() => runningRow.locator('.chip').textContent(), { timeout: 60_000 }).toBe('running');
    const buttons = [
      runningRow.getByRole('button', { name: /^Cancel/ }),
      dave.locator(`[data-test-id="${stopped}"]`).getByRole('button', { name: /^Retry/ }),
    ];
    for (const button of buttons) {
      expect(await button.isVisible()).toBe(true);
      const box = (await button.boundingBox())!;
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(390);
    }
    expect(await dave.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(await dave.locator('.table-wrap').evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
    await dave.screenshot({ path: join(SHOTS, 'tests-390.png'), fullPage: true });
    await cancel(token, running);
    await dave.context().close();
  });

  it('shows a retried row as queued at once, then follows its events', async () => {
    const erin = await signedIn('erin@example.com');
    const token = await tokenOf(erin);
    const testId = await submit(token, { testType: 'performance', url: `${targetUrl}slow` });
    await cancel(token, testId);
    await erin.goto(`${origin}/tests`);
    const row = erin.locator(`[data-test-id="${testId}"]`);
    await expect.poll(() => row.locator('.chip').textContent()).toBe('cancelled');
    // The chip's text at the moment "Queued again" appears: not some time later.
    const chipAtNotice = erin.evaluate(
      (id) =>
        new Promise<string>((resolve) => {
          const observer = new MutationObserver(() => {
            if (!document.querySelector('.notice-line')?.textContent?.startsWith('Queued again')) return;
            observer.disconnect();
            resolve(document.querySelector(`[data-test-id="${id}"] .chip`)!.textContent!);
          });
          observer.observe(document.body, { childList: true, subtree: true, characterData: true });
        }),
      testId,
    );
    await row.getByRole('button', { name: /^Retry/ }).click();
    expect(await chipAtNotice).toBe('queued');
    await expect.poll(() => row.locator('.chip').textContent(), { timeout: 60_000 }).toBe('running');
    await cancel(token, testId);
    await expect.poll(() => row.locator('.chip').textContent()).toBe('cancelled');
    await erin.context().close();
  });

  async function register(email: string): Promise<string> {
    const res = await fetch(`${origin}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { token: string }).token;
  }

  it('shows an admin whose each test is, and one owner’s tests on asking', async () => {
    const frank = await register('frank@example.com');
    const gina = await register('gina@example.com');
    const franks = await submit(frank, { testType: 'seo', url: `${targetUrl}frank`, name: 'franks' });
    const ginas = await submit(gina, { testType: 'seo', url: `${targetUrl}gina`, name: 'ginas' });
    const admin = await signedIn('admin@example.com');
    await admin.goto(`${origin}/tests`);
    const owner = (id: string) => admin.locator(`[data-test-id="${id}"] [data-label="owner"]`).textContent();
    await expect.poll(() => owner(franks)).toBe('frank@example.com');
    expect(await owner(ginas)).toBe('gina@example.com');
    expect(await admin.locator('thead th').allTextContents()).toContain('owner');

    await admin.getByLabel('Owner').selectOption('gina@example.com');
    await admin.waitForURL(`${origin}/tests?owner=gina%40example.com`);
    await expect
      .poll(() => admin.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.testId)))
      .toEqual([ginas]);
    await admin.screenshot({ path: join(SHOTS, 'tests-admin-owner.png'), fullPage: true });

    // A user's own list needs no owner column.
    const hank = await signedIn('hank@example.com');
    await submit(await tokenOf(hank), { testType: 'seo', url: `${targetUrl}hank` });
    await hank.goto(`${origin}/tests`);
    await hank.locator('tbody tr').first().waitFor();
    expect(await hank.locator('thead th').allTextContents()).not.toContain('owner');
    expect(await hank.getByLabel('Owner').count()).toBe(0);
    await hank.context().close();
    await admin.context().close();
  });

  it('shows the score, sub-resources and broken links the API has, and a timeout with its URL', async () => {
    const ivy = await signedIn('ivy@example.com');
    const token = await tokenOf(ivy);
    const page = `${targetUrl}page`;
    const perf = await submit(token, { testType: 'performance', url: page, config: { iterations: 1 } });
    const seo = await submit(token, { testType: 'seo', url: page });
    const slow = `${targetUrl}slow/report?week=49`;
    const timedOut = await submit(token, {
      testType: 'performance',
      url: slow,
      config: { iterations: 1, timeoutMs: 1000 },
    });
    for (const id of [perf, seo]) expect(await settled(token, id)).toBe('completed');
    expect(await settled(token, timedOut)).toBe('failed');

    await ivy.goto(`${origin}/tests/${perf}`);
    await ivy.getByRole('heading', { name: /^Score \d+\/100$/ }).waitFor();
    expect(
      await ivy.locator('.score-factors li').evaluateAll((li) => li.map((l) => l.dataset.factor)),
    ).toEqual(['ttfb', 'total', 'weight', 'requests', 'compression', 'status']);
    expect(await ivy.locator('[data-factor="status"] strong').textContent()).toBe('status 0/10');
    await ivy.getByRole('heading', { name: 'Sub-resources (2)' }).waitFor();
    expect(
      await ivy
        .locator('table.resources tbody tr')
        .evaluateAll((rows) =>
          rows.map((r) => [...(r as HTMLTableRowElement).cells].slice(0, 3).map((c) => c.textContent)),
        ),
    ).toEqual([
      [`${targetUrl}app.js`, 'script', '200'],
      [`${targetUrl}missing.png`, 'image', '404'],
    ]);
    await ivy.screenshot({ path: join(SHOTS, 'performance-score.png'), fullPage: true });

    await ivy.goto(`${origin}/tests/${seo}`);
    await ivy.getByRole('heading', { name: 'Broken links (1 of 2 checked)' }).waitFor();
    expect(await ivy.locator('.broken-links li').allTextContents()).toEqual([`${targetUrl}missing → 404`]);
    await ivy.screenshot({ path: join(SHOTS, 'seo-broken-links.png'), fullPage: true });

    await ivy.goto(`${origin}/tests/${timedOut}`);
    await expect
      .poll(() => ivy.locator('p.error-text[role="alert"]').textContent())
      .toBe(
        `all 1 requests to ${slow} failed; first error: timed out after 1000 ms without a complete response`,
      );
    expect(await ivy.locator('progress').count()).toBe(0);
    expect(await ivy.getByText('99%').count()).toBe(0);
    await ivy.screenshot({ path: join(SHOTS, 'timed-out.png'), fullPage: true });
    await ivy.context().close();
  });

  it('lists the caller’s running and queued tests on the Queue page, with why each waits', async () => {
    const jack = await signedIn('jack@example.com');
    const token = await tokenOf(jack);
    // Five slow tests fill the all-in-one's five worker slots; the sixth waits for one.
    const slow: string[] = [];
    for (let i = 1; i <= 6; i++) {
      slow.push(
        await submit(token, { testType: 'performance', url: `${targetUrl}slow/${i}`, name: `slow ${i}` }),
      );
    }
    await jack.goto(`${origin}/queue`);
    const items = jack.locator('ol.waiting > li');
    const line = (id: string) => jack.locator(`ol.waiting [data-test-id="${id}"] .small`).textContent();
    await expect
      .poll(() => items.evaluateAll((li) => li.map((l) => l.querySelector('.chip')!.textContent)), {
        timeout: 60_000,
      })
      .toEqual(['running', 'running', 'running', 'running', 'running', 'queued']);
    expect(await items.evaluateAll((li) => li.map((l) => l.dataset.testId))).toEqual(slow);
    await expect
      .poll(() => line(slow[5]!))
      .toMatch(/^position 1 · done in ~\d+ s · every worker slot is busy \(5 of 5\)$/);
    expect(await jack.locator(`ol.waiting [data-test-id="${slow[5]}"] a`).getAttribute('href')).toBe(
      `/tests/${slow[5]}`,
    );
    await jack.screenshot({ path: join(SHOTS, 'queue-waiting.png'), fullPage: true });
    for (const id of slow) await cancel(token, id);
    await expect.poll(() => jack.getByText('None: every test of yours has finished.').count()).toBe(1);
    await jack.context().close();
  });
  it('builds an api test with the step editor, its errors under the field they are about', async () => {
    const kim = await signedIn('kim@example.com');
    await kim.goto(`${origin}/new?type=api`);
    await kim.locator('#f-url').fill(targetUrl);
    expect(await kim.locator('#step-0-name').inputValue()).toBe('home');
    await kim.locator('#step-0-url').fill('ftp://example.com/');
    await kim.getByRole('button', { name: 'Add header' }).click();
    await kim.getByLabel('Headers 1 Name').fill('x-probe');
    await kim.getByLabel('Headers 1 Value').fill('1');
    await kim.locator('#step-0-bodyContains').fill('hello');
    await kim.getByRole('button', { name: 'Run api test' }).click();
    await expect
      .poll(() => kim.locator('#step-0-url-error').textContent())
      .toBe('Use an http or https URL, or a path such as /login');
    expect(await kim.locator('#step-0-url').getAttribute('aria-invalid')).toBe('true');
    await kim.screenshot({ path: join(SHOTS, 'api-steps-error.png'), fullPage: true });

    // The JSON view is the same steps: broken JSON says where, valid JSON edits the form.
    await kim.getByLabel('JSON', { exact: true }).check();
    const json = kim.locator('#steps-json');
    expect(JSON.parse(await json.inputValue())).toEqual({
      steps: [
        {
          name: 'home',
          method: 'GET',
          url: 'ftp://example.com/',
          headers: { 'x-probe': '1' },
          assert: { status: 200, bodyContains: 'hello' },
        },
      ],
    });
    await json.fill('{"steps": [\n  {"name": "home",}\n]}');
    expect(await kim.locator('#steps-json-error').textContent()).toMatch(/^Line 2, column 19: /);
    await json.fill(
      JSON.stringify({
        steps: [{ name: 'home', method: 'GET', url: '/', assert: { status: 200, bodyContains: 'hello' } }],
      }),
    );
    expect(await kim.locator('#steps-json-error').count()).toBe(0);
    await kim.getByLabel('JSON', { exact: true }).uncheck();
    expect(await kim.locator('#step-0-url').inputValue()).toBe('/');
    await kim.getByRole('button', { name: 'Run api test' }).click();
    await kim.waitForURL(/\/tests\/[0-9a-f-]+$/);
    const testId = new URL(kim.url()).pathname.split('/').at(-1)!;
    expect(await settled(await tokenOf(kim), testId)).toBe('completed');
    const res = await fetch(`${origin}/api/test/queue/jobs/${testId}`, {
      headers: { authorization: `Bearer ${await tokenOf(kim)}` },
    });
    expect(((await res.json()) as { config: unknown }).config).toEqual({
      steps: [{ name: 'home', method: 'GET', url: '/', assert: { status: 200, bodyContains: 'hello' } }],
    });
    await kim.context().close();
  });
});
