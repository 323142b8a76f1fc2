// @vitest-environment node
import { createHmac, randomUUID } from 'node:crypto';
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
/** Screenshots the README shows: rewritten only when asked, so a test run leaves the checkout as it was. */
const README_SHOTS =
  process.env.UPDATE_README_SCREENSHOTS === '1' ? join(REPO_ROOT, 'docs', 'screenshots') : SHOTS;
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
  /** What `/flip` answers: 200 while healthy, 503 otherwise (a monitor going down and up). */
  let flipHealthy = false;
  let origin: string;
  let browser: Browser;
  let dataDir: string;

  beforeAll(async () => {
    target = createServer((req, res) => {
      // /slow answers only after a long while: a test of it stays running until cancelled.
      const delay = req.url?.startsWith('/slow') ? 20_000 : 0;
      const timer = setTimeout(() => {
        if (req.url?.startsWith('/missing')) return void res.writeHead(404).end();
        if (req.url?.startsWith('/flip')) return void res.writeHead(flipHealthy ? 200 : 503).end();
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
      // Every test signs up accounts of its own from this one address: more than the default 10/h.
      REGISTER_MAX_PER_HOUR: '100',
      // Monitors of the Monitors pages' test run every 2 s.
      MONITOR_MIN_INTERVAL_SECONDS: '2',
      // The Incidents pages' test: an incident's notifications go out at once, not grouped.
      ALERT_GROUP_WAIT_MS: '0',
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

  it('makes a team workspace, invites a member by link, changes their role, and switches between workspaces', async () => {
    const olive = await signedIn('olive@example.com');
    await olive.goto(`${origin}/workspace`);
    await olive.getByLabel('Name').fill('QA');
    await olive.getByRole('button', { name: 'Create' }).click();
    await expect.poll(() => olive.getByRole('heading', { level: 1 }).textContent()).toBe('QA');
    await olive.getByLabel('Invite by email').fill('pete@example.com');
    await olive.getByLabel('as', { exact: true }).selectOption('viewer');
    await olive.getByRole('button', { name: 'Invite' }).click();
    const link = await olive.getByTestId('member-invitation-link').textContent();
    const token = new URL(link!).searchParams.get('invite')!;
    // Pending until accepted; another one revoked from the list stops working at once.
    const pending = () =>
      olive.getByTestId('invitations').locator('tbody tr td:first-child').allTextContents();
    await expect.poll(pending).toEqual(['pete@example.com']);
    await olive.getByLabel('Invite by email').fill('quinn@example.com');
    await olive.getByRole('button', { name: 'Invite' }).click();
    await expect.poll(pending).toEqual(['quinn@example.com', 'pete@example.com']);
    const quinnLink = (await olive.getByTestId('member-invitation-link').textContent())!;
    await olive.getByRole('button', { name: 'Revoke the invitation of quinn@example.com' }).click();
    await expect.poll(pending).toEqual(['pete@example.com']);
    const refused = await fetch(`${origin}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: 'quinn@example.com',
        password: PASSWORD,
        invitation: new URL(quinnLink).searchParams.get('invite'),
      }),
    });
    expect(refused.status).toBe(403);

    const pete = await signedIn('pete@example.com');
    await pete.goto(`${origin}/workspace?accept=${encodeURIComponent(token)}`);
    await expect.poll(() => pete.getByRole('heading', { level: 1 }).textContent()).toBe('QA');
    expect(await pete.locator('main').innerText()).toContain('Your role here: viewer.');
    // A viewer sees the members but manages none of them.
    expect(await pete.getByRole('button', { name: /Remove/ }).count()).toBe(0);

    await olive.reload();
    await expect
      .poll(() => olive.locator('main').innerText())
      .toContain('No invitation is waiting to be accepted.');
    await olive.getByLabel('Role of pete@example.com').selectOption('member');
    const teamId = await olive.evaluate(() => localStorage.getItem('crucible.workspace'));
    const petesRole = async () => {
      const res = await fetch(`${origin}/api/workspaces/${teamId}/members`, {
        headers: { authorization: `Bearer ${await tokenOf(olive)}` },
      });
      const { items } = (await res.json()) as { items: { email: string; role: string }[] };
      return items.find((m) => m.email === 'pete@example.com')?.role;
    };
    await expect.poll(petesRole).toBe('member');
    await olive.screenshot({ path: join(SHOTS, 'workspace-members.png'), fullPage: true });

    const switcher = olive.getByTestId('workspace-switcher');
    expect(await switcher.locator('option').allTextContents()).toEqual([
      'Personal (yours) · owner',
      'QA · owner',
    ]);
    await switcher.selectOption({ label: 'Personal (yours) · owner' });
    await olive.waitForURL(`${origin}/tests`);
    await olive.goto(`${origin}/workspace`);
    await expect.poll(() => olive.getByRole('heading', { level: 1 }).textContent()).toBe('Personal');
    await olive.context().close();
    await pete.context().close();
  });

  it('shares a finished test by a public link, read without sign-in and redacted, until revoked; the audit log lists it', async () => {
    const sasha = await signedIn('sasha@example.com');
    const token = await tokenOf(sasha);
    const testId = await submit(token, {
      testType: 'stress',
      name: 'shared stress',
      url: `${targetUrl}?key=hunter2`,
      config: { connections: 1, durationSec: 1, headers: { authorization: 'Bearer hunter2' } },
    });
    expect(await settled(token, testId)).toBe('completed');
    await sasha.goto(`${origin}/tests/${testId}`);
    await sasha.getByLabel('Public link, works').selectOption({ label: '7 days' });
    await sasha.getByRole('button', { name: 'Share', exact: true }).click();
    const link = (await sasha.getByTestId('share-link').textContent())!;
    expect(link).toMatch(new RegExp(`^${origin}/shared/[A-Za-z0-9_-]{32}$`));
    await expect.poll(() => sasha.getByTestId('shares').locator('tbody tr').count()).toBe(1);

    const visitor = await (await browser.newContext()).newPage();
    await visitor.goto(link);
    await expect
      .poll(() => visitor.getByRole('heading', { level: 1 }).textContent())
      .toMatch(/^shared stress completed/);
    const shown = await visitor.locator('main').innerText();
    expect(shown).toContain(`${targetUrl}?[redacted]`);
    expect(shown).not.toContain('hunter2');
    expect(JSON.parse((await visitor.getByTestId('shared-config').textContent())!)).toMatchObject({
      connections: 1,
      headers: { authorization: '[redacted]' },
    });
    // Nobody is signed in on the public page, and it shows the stress result as the test page does.
    expect(await visitor.getByRole('link', { name: 'Sign in' }).count()).toBe(1);
    expect(await visitor.getByRole('button', { name: 'Sign out' }).count()).toBe(0);
    await visitor.screenshot({ path: join(SHOTS, 'shared-test.png'), fullPage: true });

    await sasha.getByRole('button', { name: /^Revoke/ }).click();
    await expect.poll(() => sasha.getByTestId('shares').count()).toBe(0);
    await visitor.reload();
    await expect
      .poll(() => visitor.getByTestId('share-gone').textContent())
      .toBe('This link was revoked or has expired.');

    await sasha.goto(`${origin}/workspace`);
    await sasha.getByRole('link', { name: 'Audit log' }).click();
    await sasha.waitForURL(`${origin}/workspace/audit`);
    const actions = () => sasha.getByTestId('audit').locator('tbody tr td:nth-child(3)').allTextContents();
    await expect.poll(async () => (await actions()).slice(0, 2)).toEqual(['share.revoked', 'share.created']);
    expect(await sasha.getByTestId('audit').locator('tbody tr').first().innerText()).toContain(
      'sasha@example.com',
    );
    await sasha.screenshot({ path: join(SHOTS, 'workspace-audit.png'), fullPage: true });
    await visitor.context().close();
    await sasha.context().close();
  });

  it('follows a shared running test live over the link’s own socket, and says at once when a link is revoked', async () => {
    const theo = await register('theo@example.com');
    const testId = await submit(theo, {
      testType: 'stress',
      name: 'live share',
      url: targetUrl,
      // Long enough to be running through both visits on a loaded machine (8 s was not, in CI);
      // the owner cancels it once the pages have been checked.
      config: { connections: 1, durationSec: 300 },
    });
    const share = async () => {
      const res = await fetch(`${origin}/api/test/${testId}/share`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${theo}` },
        body: '{}',
      });
      expect(res.status).toBe(201);
      return (await res.json()) as { id: string; url: string };
    };
    const visit = async (url: string) => {
      const page = await (await browser.newContext()).newPage();
      const sockets: string[] = [];
      let subscribed = false;
      page.on('websocket', (ws) => {
        sockets.push(new URL(ws.url()).searchParams.get('share') ?? 'no share');
        ws.on('framereceived', (f) => {
          if (String(f.payload).includes('"type":"subscribed"')) subscribed = true;
        });
      });
      await page.goto(url);
      await expect
        .poll(() => page.locator('main .chip').first().textContent(), { timeout: 30_000 })
        .toBe('running');
      // The page's own socket, with the link as its only credential, reads the share's channel.
      await expect.poll(() => subscribed, { timeout: 30_000 }).toBe(true);
      expect(sockets).toEqual([new URL(url).pathname.split('/').pop()]);
      return page;
    };
    const [kept, revoked] = [await share(), await share()];
    const [follower, left] = [await visit(kept.url), await visit(revoked.url)];
    const res = await fetch(`${origin}/api/test/${testId}/share/${revoked.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${theo}` },
    });
    expect(res.status).toBe(204);
    // The page left open hears it from its socket (closed 4001), without a reload.
    await expect
      .poll(() => left.getByTestId('share-gone').textContent(), { timeout: 30_000 })
      .toBe('This link was revoked or has expired.');
    // The other link's page sees the test end, also without a reload.
    const cancelled = await fetch(`${origin}/api/test/${testId}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${theo}` },
    });
    expect(cancelled.status).toBe(200);
    await expect
      .poll(() => follower.locator('main .chip').first().textContent(), { timeout: 60_000 })
      .toBe('cancelled');
    await left.context().close();
    await follower.context().close();
  });

  it('shows the workspace’s use against its quotas', async () => {
    const uma = await signedIn('uma@example.com');
    const res = await fetch(`${origin}/api/test/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await tokenOf(uma)}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        testType: 'performance',
        url: 'http://127.0.0.1:8080/',
        config: { iterations: 1 },
      }),
    });
    expect(res.status).toBe(202);
    await uma.goto(`${origin}/workspace`);
    const row = (name: string) =>
      uma.getByTestId('workspace-usage').getByRole('row', { name: new RegExp(`^${name}`) });
    await expect
      .poll(() => row('Submissions this minute').locator('td').first().textContent())
      .toMatch(/^1 of 120 · /);
    expect(await row('Tests running').locator('td').first().textContent()).toMatch(
      / of 10 · more wait queued$/,
    );
    expect(await row('Stress budget today').locator('td').first().textContent()).toMatch(
      /^0 of 720,000 connection-seconds · resets at /,
    );
    expect(await uma.getByRole('meter', { name: 'Submissions this minute: 1 of 120' }).count()).toBe(1);
    await uma.context().close();
  });

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
      '/monitors',
      '/monitors/new',
      '/notifications',
      '/channels',
      '/incidents',
      '/alert-rules',
      '/alert-rules/new',
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
    await expect.poll(() => row.locator('.chip').textContent(), { timeout: 15_000 }).toBe('cancelled');
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

  it('creates a monitor with the form, sees it go down and up live, pauses, resumes, edits and deletes it', async () => {
    const mona = await signedIn('mona@example.com');
    const token = await tokenOf(mona);
    const call = async (method: string, path: string, body?: object) => {
      const res = await fetch(`${origin}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return {
        status: res.status,
        body: res.status === 204 ? null : ((await res.json()) as Record<string, unknown>),
      };
    };
    flipHealthy = false;
    await mona.getByRole('link', { name: 'Monitors' }).click();
    await mona.getByText('No monitors yet.', { exact: false }).waitFor();
    await mona.getByRole('link', { name: 'New monitor' }).click();
    await mona.waitForURL(`${origin}/monitors/new`);
    // Browser tests cannot be monitored yet: the form does not offer them.
    expect(await mona.getByLabel(/^browser/).count()).toBe(0);
    await mona.getByLabel('Monitor name').fill('flip');
    await mona.locator('#f-url').fill(targetUrl);
    await mona.locator('#step-0-url').fill('/flip');
    await mona.getByLabel('Every (seconds)').fill('1');
    await mona.getByRole('button', { name: 'Create monitor' }).click();
    // The API's own refusal, under the field it is about.
    await expect
      .poll(() => mona.locator('#f-everySeconds-error').textContent())
      .toBe('schedule.everySeconds must be >= 2');
    expect(await mona.getByLabel('Every (seconds)').getAttribute('aria-invalid')).toBe('true');
    await mona.screenshot({ path: join(SHOTS, 'monitor-form-error.png'), fullPage: true });
    await mona.getByLabel('Every (seconds)').fill('2');
    await mona.getByRole('button', { name: 'Create monitor' }).click();
    await mona.waitForURL(/\/monitors\/[0-9a-f-]{36}$/);
    const flipId = new URL(mona.url()).pathname.split('/').at(-1)!;
    const created = await call('GET', `/api/monitors/${flipId}`);
    expect(created.body).toMatchObject({
      name: 'flip',
      schedule: { everySeconds: 2 },
      test: {
        testType: 'api',
        url: targetUrl,
        config: { steps: [{ name: 'home', method: 'GET', url: '/flip', assert: { status: 200 } }] },
      },
    });

    // On the Monitors page, the state follows the runs over the WebSocket: no reload.
    await mona.getByRole('link', { name: 'Monitors', exact: true }).first().click();
    const row = mona.locator(`[data-monitor-id="${flipId}"]`);
    const state = () => row.locator('[data-status]').getAttribute('data-status');
    await expect.poll(state, { timeout: 60_000 }).toBe('down');
    await mona.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));
    flipHealthy = true;
    await expect.poll(state, { timeout: 60_000 }).toBe('up');
    expect(await mona.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(true);
    expect(await row.locator('[data-label="next run"]').textContent()).toMatch(/^(now|in [0-9] s)$/);

    // Two more, up and down, for the page's picture; and one paused.
    const monitor = (name: string, path: string, enabled = true) => ({
      name,
      test: {
        testType: 'api',
        url: targetUrl,
        config: { steps: [{ name: 'get', url: path, assert: { status: 200 } }] },
      },
      schedule: { everySeconds: 2 },
      enabled,
    });
    const others = [
      await call('POST', '/api/monitors', monitor('home page', '/')),
      await call('POST', '/api/monitors', monitor('pricing', '/missing/pricing')),
      await call('POST', '/api/monitors', monitor('nightly report', '/', false)),
    ];
    for (const m of others) expect(m.status).toBe(201);
    const states = () =>
      mona
        .locator('[data-monitor-id] [data-status]')
        .evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.status));
    // By name: flip, home page, nightly report, pricing.
    await expect.poll(states, { timeout: 60_000 }).toEqual(['up', 'up', 'paused', 'down']);
    // The key metric's sparkline of the ones that ran and passed.
    for (const name of ['flip', 'home page'])
      await mona.locator('[data-monitor-id]', { hasText: name }).locator('.spark svg').first().waitFor();
    // The figures follow the runs too, without a reload: all up, all down, and in between.
    const uptimes = () =>
      mona
        .locator('[data-monitor-id] [data-label="uptime 24 h"]')
        .evaluateAll((els) => els.map((e) => e.textContent));
    await expect
      .poll(uptimes, { timeout: 60_000 })
      .toEqual([expect.stringMatching(/^(?!100 %|0 %)\d+(\.\d+)? %$/), '100 %', '—', '0 %']);
    mkdirSync(README_SHOTS, { recursive: true });
    await mona.setViewportSize({ width: 1100, height: 420 });
    await mona.screenshot({ path: join(README_SHOTS, 'monitors.png'), fullPage: true });

    // On a phone each monitor is a card, nothing wider than the screen.
    await mona.setViewportSize({ width: 390, height: 844 });
    expect(await mona.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await mona.screenshot({ path: join(SHOTS, 'monitors-390.png'), fullPage: true });
    await mona.setViewportSize({ width: 1200, height: 900 });

    // A maintenance window: the monitor shows it, and its skipped slots are shaded on its chart.
    const homeId = String(others[0]!.body!.id);
    const maintenance = await call('POST', '/api/maintenance-windows', {
      name: 'deploy',
      monitorIds: [homeId],
      startsAt: new Date(Date.now() - 1000).toISOString(),
      endsAt: new Date(Date.now() + 600_000).toISOString(),
    });
    expect(maintenance.status).toBe(201);
    await mona.locator(`[data-monitor-id="${homeId}"]`).getByRole('link', { name: 'home page' }).click();
    await mona.waitForURL(`${origin}/monitors/${homeId}`);
    await expect
      .poll(
        async () => (await mona.getByTestId('monitor-chart').getAttribute('data-bands'))?.split(' ').at(-1),
        {
          timeout: 60_000,
        },
      )
      .toBe('maintenance');
    expect(await mona.locator('main h1 + [data-status]').getAttribute('data-status')).toBe('maintenance');
    expect(
      await mona.getByTestId('monitor-runs').locator('tbody tr').first().locator('td').nth(1).textContent(),
    ).toBe('skipped (maintenance)');
    await mona.screenshot({ path: join(SHOTS, 'monitor-maintenance.png'), fullPage: true });
    await mona.goto(`${origin}/monitors`);

    // The monitor page: chart on up/down bands, runs linked to their tests, pause and resume.
    await mona.setViewportSize({ width: 1200, height: 900 });
    await row.getByRole('link', { name: 'flip' }).click();
    await mona.waitForURL(`${origin}/monitors/${flipId}`);
    await mona.locator('.uplot canvas').first().waitFor();
    await expect
      .poll(async () => (await mona.getByTestId('monitor-chart').getAttribute('data-bands'))!.split(' '))
      .toEqual(expect.arrayContaining(['down', 'up']));
    const firstRun = mona.getByTestId('monitor-runs').locator('tbody tr a').first();
    expect(await firstRun.getAttribute('href')).toMatch(/^\/tests\/[0-9a-f-]{36}$/);
    await mona.screenshot({ path: join(SHOTS, 'monitor.png'), fullPage: true });
    await mona.getByRole('button', { name: 'Pause' }).click();
    await expect
      .poll(() => mona.locator('main h1 + [data-status]').getAttribute('data-status'))
      .toBe('paused');
    expect((await call('GET', `/api/monitors/${flipId}`)).body).toMatchObject({
      enabled: false,
      nextRunAt: null,
    });
    expect(await mona.getByTestId('next-run').textContent()).toBe('paused');
    await mona.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => mona.getByTestId('next-run').textContent()).toMatch(/^(now|in [0-9] s)$/);
    expect((await call('GET', `/api/monitors/${flipId}`)).body).toMatchObject({ enabled: true });

    await mona.getByRole('button', { name: 'Run now' }).click();
    const queued = mona.getByRole('status').getByRole('link', { name: 'its test' });
    expect(await queued.getAttribute('href')).toMatch(/^\/tests\/[0-9a-f-]{36}$/);
    const manual = (await queued.getAttribute('href'))!.split('/').at(-1)!;
    expect(await settled(token, manual)).toBe('completed');

    // Edit: the form holds what the monitor is; a new name and schedule are saved.
    await mona.getByRole('link', { name: 'Edit' }).click();
    await mona.waitForURL(`${origin}/monitors/${flipId}/edit`);
    await expect.poll(() => mona.getByLabel('Monitor name').inputValue()).toBe('flip');
    expect(await mona.locator('#step-0-url').inputValue()).toBe('/flip');
    await mona.getByLabel('Monitor name').fill('flip, every 5 s');
    await mona.getByLabel('Every (seconds)').fill('5');
    await mona.getByRole('button', { name: 'Save monitor' }).click();
    await mona.waitForURL(`${origin}/monitors/${flipId}`);
    await expect.poll(() => mona.locator('main h1').textContent()).toBe('flip, every 5 s');
    expect((await call('GET', `/api/monitors/${flipId}`)).body).toMatchObject({
      schedule: { everySeconds: 5 },
    });

    await mona.getByRole('button', { name: 'Delete' }).click();
    await mona.getByRole('button', { name: 'Delete monitor' }).click();
    await mona.waitForURL(`${origin}/monitors`);
    expect((await call('GET', `/api/monitors/${flipId}`)).status).toBe(404);
    // The others stop too: the rest of the suite shares this machine.
    for (const m of others)
      expect((await call('DELETE', `/api/monitors/${String(m.body!.id)}`)).status).toBe(204);
    await mona.context().close();
  });
  it('adds a signed webhook channel, sends it a test and reads the delivery in its trail; the bell counts a new notification live', async () => {
    const received: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
    const nora = await signedIn('nora-notify@example.com');
    const token = await tokenOf(nora);
    try {
      const bell = nora.getByTestId('bell');
      await expect.poll(() => bell.getAttribute('data-unread'), { timeout: 20_000 }).toBe('0');

      await nora.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Channels' }).click();
      await nora.getByText('No channels yet.').waitFor();
      const form = nora.getByRole('form', { name: 'Add a channel' });
      await form.getByLabel('Type').selectOption('webhook');
      await form.getByLabel('Name').fill('Hook');
      await form.getByLabel('URL').fill(receiverUrl);
      await form.getByRole('button', { name: 'Add channel' }).click();
      const secret = (await nora.getByTestId('webhook-secret').textContent())!;
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
      await nora.getByRole('button', { name: 'Done' }).click();
      expect(await nora.getByTestId('webhook-secret').count()).toBe(0);

      const row = nora
        .getByTestId('channels')
        .locator('tr', { has: nora.getByRole('link', { name: 'Hook', exact: true }) });
      await row.getByRole('button', { name: 'Send test' }).click();
      await expect
        .poll(() => row.getByTestId('test-outcome').textContent(), { timeout: 30_000 })
        .toMatch(/^\s*delivered · HTTP 200 · \d+ ms$/);
      // The receiver got one request, signed as Standard Webhooks says, with the secret shown once.
      expect(received).toHaveLength(1);
      const { headers, body } = received[0]!;
      const signed = `${String(headers['webhook-id'])}.${String(headers['webhook-timestamp'])}.${body}`;
      const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
      expect(headers['webhook-signature']).toBe(
        `v1,${createHmac('sha256', key).update(signed).digest('base64')}`,
      );
      expect((JSON.parse(body) as { type: string }).type).toBe('test.notification');

      await row.getByRole('link', { name: 'Hook' }).click();
      const trail = nora.getByTestId('trail');
      await trail.waitFor();
      const attempt = trail.locator('tr', { hasText: '#1' });
      await expect.poll(() => attempt.textContent()).toContain('delivered');
      expect(await attempt.textContent()).toContain('HTTP 200');
      expect(await attempt.textContent()).toContain('test.notification');
      expect(await trail.locator('tr', { hasText: 'written' }).textContent()).toContain('pending');

      // An in-app channel's test, sent from elsewhere (the API directly): the open page's bell counts
      // it from the user's channel, with no reload.
      await nora.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Channels' }).click();
      await form.getByLabel('Type').selectOption('in-app');
      await form.getByLabel('Name').fill('Me');
      await form.getByRole('button', { name: 'Add channel' }).click();
      const mine = nora
        .getByTestId('channels')
        .locator('tr', { has: nora.getByRole('link', { name: 'Me', exact: true }) });
      const id = await mine.getAttribute('data-channel-id');
      expect(await nora.getByTestId('unread-count').count()).toBe(0);
      const sent = await fetch(`${origin}/api/notification-channels/${id}/test`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(((await sent.json()) as { status: string }).status).toBe('delivered');
      await expect.poll(() => bell.getAttribute('data-unread'), { timeout: 30_000 }).toBe('1');
      expect(await nora.getByTestId('unread-count').textContent()).toBe('1');

      // The notification centre lists it; marking it read empties the bell.
      await bell.click();
      const item = nora
        .getByTestId('notifications')
        .locator('li', { hasText: 'Test notification from Crucible' });
      await item.waitFor();
      expect(await item.textContent()).toContain('This is a test of the channel "Me"');
      await item.getByRole('button', { name: 'Mark read' }).click();
      await expect.poll(() => bell.getAttribute('data-unread')).toBe('0');
      await nora.getByRole('button', { name: 'Unread', exact: true }).click();
      await nora.getByText('Nothing unread.').waitFor();
      // Another arrives while the centre is open: it is listed at once, and Mark all read empties the bell.
      const again = await fetch(`${origin}/api/notification-channels/${id}/test`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(again.status).toBe(200);
      await nora.getByTestId('notifications').locator('li.unread').waitFor({ timeout: 30_000 });
      await expect.poll(() => bell.getAttribute('data-unread'), { timeout: 30_000 }).toBe('1');
      await nora.getByRole('button', { name: 'Mark all read' }).click();
      await expect.poll(() => bell.getAttribute('data-unread')).toBe('0');
      await nora.getByText('Nothing unread.').waitFor();
    } finally {
      await nora.context().close();
      receiver.closeAllConnections();
      receiver.close();
    }
  });

  it('makes an alert rule with its form, lists the incident it opens, acknowledges and resolves it on its page, reaches it from the notification centre, then changes and deletes the rule', async () => {
    let healthy = false;
    const failing = createServer((_req, res) => void res.writeHead(healthy ? 200 : 503).end());
    await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
    const failingUrl = `http://127.0.0.1:${(failing.address() as { port: number }).port}/`;
    const ivy = await signedIn('ivy-incidents@example.com');
    const stale = await ivy.context().newPage();
    const token = await tokenOf(ivy);
    const call = async (method: string, path: string, body?: object) => {
      const res = await fetch(`${origin}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    try {
      const channel = await call('POST', '/api/notification-channels', {
        name: 'Me',
        type: 'in-app',
        config: {},
      });
      expect(channel.status).toBe(201);
      const monitor = await call('POST', '/api/monitors', {
        name: 'checkout',
        test: {
          testType: 'api',
          url: failingUrl,
          config: { steps: [{ name: 'get', url: '/', assert: { status: 200 } }] },
        },
        schedule: { everySeconds: 2 },
      });
      expect(monitor.status).toBe(201);
      // The rule, made with the form: the API's refusal of a threshold an api test cannot measure
      // shows under its field.
      await ivy.goto(`${origin}/alert-rules`);
      await ivy.getByText('No rules yet.', { exact: false }).waitFor();
      await ivy.getByRole('link', { name: 'New rule' }).click();
      await ivy.waitForURL(`${origin}/alert-rules/new`);
      const form = ivy.getByRole('form', { name: 'New alert rule' });
      await form.getByLabel('Rule name').fill('is down');
      await expect.poll(() => form.getByLabel('Monitor').locator('option').count()).toBe(2);
      await form.getByLabel('Monitor').selectOption({ label: 'checkout' });
      await form.getByLabel('breaks a threshold').check();
      await form.getByLabel('Threshold', { exact: true }).fill('latency.p95 < 500');
      await form.getByRole('button', { name: 'Create rule' }).click();
      await expect
        .poll(() => ivy.locator('#r-expression-error').textContent())
        .toMatch(/^condition\.expression: threshold "latency\.p95 < 500": api tests have no metric/);
      expect(await form.getByLabel('Threshold', { exact: true }).getAttribute('aria-invalid')).toBe('true');
      await form.getByLabel('is down', { exact: true }).check();
      await form.getByLabel('Failing runs to open (1–20)').fill('1');
      // Nothing resolves it but the buttons: the monitor is paused and its target healthy first.
      await form.getByLabel('Passing runs to resolve (1–20)').fill('20');
      await form.getByLabel('Severity').selectOption('critical');
      await form.getByRole('checkbox', { name: 'Me in-app' }).check();
      await form.getByRole('button', { name: 'Create rule' }).click();
      await ivy.waitForURL(`${origin}/alert-rules`);
      const ruleRow = ivy.getByTestId('alert-rules').locator('tr', { hasText: 'is down' });
      await expect
        .poll(() => ruleRow.textContent())
        .toBe('is downdown once · resolves after 20 passing · no reminderscriticalcheckoutMeDelete');
      const rules = await call('GET', '/api/alert-rules');
      expect(rules.body.items).toEqual([
        expect.objectContaining({
          name: 'is down',
          target: { monitorId: monitor.body.id },
          condition: { kind: 'down' },
          failAfter: 1,
          recoverAfter: 20,
          remindEveryMinutes: null,
          severity: 'critical',
          channelIds: [channel.body.id],
        }),
      ]);

      await ivy.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Incidents' }).click();
      await ivy.waitForURL(`${origin}/incidents`);
      const row = ivy.getByTestId('incidents').locator('tr', { hasText: 'checkout: is down' });
      await expect
        .poll(
          async () => {
            await ivy.getByRole('button', { name: 'Refresh' }).click();
            return row.count();
          },
          { timeout: 90_000, interval: 1000 },
        )
        .toBe(1);
      // One incident is enough: no more runs, and none that still comes fails.
      expect(
        (await call('PATCH', `/api/monitors/${String(monitor.body.id)}`, { enabled: false })).status,
      ).toBe(200);
      healthy = true;
      expect(await row.locator('[data-status]').getAttribute('data-status')).toBe('open');
      expect(await row.textContent()).toContain('critical');
      // The filter asks the API for one status only.
      await ivy.getByRole('group', { name: 'Status' }).getByRole('button', { name: 'Resolved' }).click();
      await ivy.waitForURL(`${origin}/incidents?status=resolved`);
      await ivy.getByText('No resolved incidents.', { exact: false }).waitFor();
      await ivy.getByRole('group', { name: 'Status' }).getByRole('button', { name: 'Open' }).click();
      await row.getByRole('link', { name: 'checkout: is down' }).click();
      await ivy.waitForURL(/\/incidents\/[0-9a-f-]{36}$/);
      const incidentPath = new URL(ivy.url()).pathname;
      await stale.goto(`${origin}${incidentPath}`);

      const timeline = ivy.getByTestId('timeline');
      await timeline.locator('li[data-kind="opened"]').waitFor();
      const failingRun = timeline.locator('li[data-kind="run"]').first();
      expect(await failingRun.getByRole('link').getAttribute('href')).toMatch(/^\/tests\/[0-9a-f-]{36}$/);
      expect(await failingRun.textContent()).toMatch(/Failing run [0-9a-f]{8} \(down\)$/);
      await expect
        .poll(
          async () => {
            await ivy.reload();
            return ivy
              .getByTestId('timeline')
              .locator('li[data-kind="notification"]', { hasText: 'incident.opened' })
              .locator('[data-delivery-id]')
              .textContent();
          },
          { timeout: 60_000, interval: 1000 },
        )
        .toMatch(/^Me: delivered · 1 attempt$/);

      await ivy.getByRole('button', { name: 'Acknowledge' }).click();
      await expect
        .poll(() => ivy.getByTestId('incident-summary').locator('[data-status]').getAttribute('data-status'))
        .toBe('acknowledged');
      expect(await ivy.getByRole('button', { name: 'Acknowledge' }).count()).toBe(0);
      await ivy.getByRole('button', { name: 'Resolve' }).click();
      await expect
        .poll(() => ivy.getByTestId('incident-summary').locator('[data-status]').getAttribute('data-status'))
        .toBe('resolved');
      expect(await ivy.getByRole('button', { name: 'Resolve' }).count()).toBe(0);
      await timeline.locator('li[data-kind="acknowledged"]').waitFor();
      expect(await timeline.locator('li[data-kind="resolved"]').textContent()).toContain('Resolved by hand');

      // The page opened before all this still offers Acknowledge: the API's 409, said plainly.
      await stale.getByRole('button', { name: 'Acknowledge' }).click();
      expect(await stale.getByTestId('action-error').textContent()).toBe(
        'Could not acknowledge it: the incident is resolved, not open. The page now shows its current state.',
      );
      await expect
        .poll(() =>
          stale.getByTestId('incident-summary').locator('[data-status]').getAttribute('data-status'),
        )
        .toBe('resolved');
      await ivy.screenshot({ path: join(SHOTS, 'incident.png'), fullPage: true });

      // The in-app notification's link in the centre reaches the incident's page.
      await ivy.goto(`${origin}/notifications`);
      const item = ivy.getByTestId('notifications').locator('li', { hasText: 'checkout' }).first();
      await item.waitFor({ timeout: 30_000 });
      await item.getByRole('link', { name: 'Open the incident' }).click();
      await ivy.waitForURL(`${origin}${incidentPath}`);
      await expect.poll(() => ivy.locator('main h1').textContent()).toBe('checkout: is down');

      // The monitor's chart marks the incident's span.
      await ivy.goto(`${origin}/monitors/${String(monitor.body.id)}`);
      await expect
        .poll(() => ivy.getByTestId('monitor-chart').getAttribute('data-incidents'), { timeout: 30_000 })
        .toBe('resolved');
      expect(await ivy.getByTestId('monitor-chart').textContent()).toContain('incident (top strip)');
      await ivy.getByTestId('monitor-chart').screenshot({ path: join(SHOTS, 'monitor-chart-incident.png') });
      await ivy.goto(`${origin}${incidentPath}`);

      // The rule, changed with its form and then deleted.
      await ivy.getByRole('link', { name: 'rule', exact: true }).click();
      await ivy.waitForURL(/\/alert-rules\/[0-9a-f-]{36}$/);
      const edit = ivy.getByRole('form', { name: 'Change the rule' });
      await expect.poll(() => edit.getByLabel('Rule name').inputValue()).toBe('is down');
      expect(await edit.getByRole('checkbox', { name: 'Me in-app' }).isChecked()).toBe(true);
      await edit.getByLabel('Severity').selectOption('warning');
      await edit.getByRole('button', { name: 'Save rule' }).click();
      await ivy.waitForURL(`${origin}/alert-rules`);
      await expect.poll(() => ruleRow.locator('.sev').textContent()).toBe('warning');
      ivy.once('dialog', (d) => void d.accept());
      await ruleRow.getByRole('button', { name: 'Delete' }).click();
      await ivy.getByText('No rules yet.', { exact: false }).waitFor();
    } finally {
      await ivy.context().close();
      failing.closeAllConnections();
      failing.close();
    }
  });

  it('sets quiet hours, a channel’s minimum severity and a mute on the preferences page; refusals show under their field', async () => {
    const page = await signedIn(`prefs-${randomUUID()}@example.com`);
    try {
      const token = await tokenOf(page);
      const call = async (method: string, path: string, body?: object) => {
        const res = await fetch(`${origin}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body && { 'content-type': 'application/json' }) },
          ...(body && { body: JSON.stringify(body) }),
        });
        return { status: res.status, body: (await res.json()) as Record<string, any> };
      };
      const bell = await call('POST', '/api/notification-channels', {
        name: 'Bell',
        type: 'in-app',
        config: {},
      });
      expect(bell.status).toBe(201);

      await page.goto(`${origin}/notifications`);
      await page.getByRole('link', { name: 'Preferences' }).click();
      await page.waitForURL(`${origin}/notifications/preferences`);
      const form = page.getByRole('form', { name: 'Notification preferences' });
      await form.getByRole('checkbox', { name: /Hold non-critical notifications/ }).check();
      // Filled from nothing set: 22:00–07:00 in the browser's zone.
      expect(await form.getByLabel('From').inputValue()).toBe('22:00');
      expect(await form.getByLabel('Until', { exact: true }).inputValue()).toBe('07:00');
      await form.getByLabel('Until', { exact: true }).fill('22:00');
      await form.getByRole('button', { name: 'Save preferences' }).click();
      await form.getByText('Start and end must differ').waitFor();

      // The zone is the API's to judge: its refusal shows under the field.
      await form.getByLabel('Until', { exact: true }).fill('06:30');
      await form.getByLabel('Time zone').fill('Mars/Base');
      await form.getByRole('button', { name: 'Save preferences' }).click();
      await form.getByText('quietHours.timezone: "Mars/Base" is not a known time zone').waitFor();
      expect(await form.getByLabel('Time zone').getAttribute('aria-invalid')).toBe('true');

      await form.getByLabel('Time zone').fill('Asia/Tokyo');
      await form.getByLabel(/^Bell/).selectOption('critical');
      await form.getByRole('button', { name: 'Mute for an hour' }).click();
      await form.getByRole('button', { name: 'Save preferences' }).click();
      await form.getByRole('status').getByText('Saved.').waitFor();
      const saved = await call('GET', '/api/notification-preferences');
      expect(saved.body).toMatchObject({
        quietHours: { start: '22:00', end: '06:30', timezone: 'Asia/Tokyo' },
        minSeverity: { [bell.body.id]: 'critical' },
      });
      // An hour from the click, to the minute the input holds.
      expect(Math.abs(new Date(saved.body.mutedUntil).getTime() - (Date.now() + 3_600_000))).toBeLessThan(
        120_000,
      );
      await page.screenshot({ path: join(SHOTS, 'notification-preferences.png'), fullPage: true });

      // Reloaded, the page shows what is saved; unmuted and without quiet hours, the minimum stays.
      await page.reload();
      await expect.poll(() => form.getByLabel('Time zone').inputValue()).toBe('Asia/Tokyo');
      expect(await form.getByLabel(/^Bell/).inputValue()).toBe('critical');
      expect(await form.getByLabel(/^Muted until/).inputValue()).not.toBe('');
      await form.getByRole('button', { name: 'Unmute' }).click();
      await form.getByRole('checkbox', { name: /Hold non-critical notifications/ }).uncheck();
      await form.getByRole('button', { name: 'Save preferences' }).click();
      await form.getByRole('status').getByText('Saved.').waitFor();
      expect((await call('GET', '/api/notification-preferences')).body).toEqual({
        quietHours: null,
        minSeverity: { [bell.body.id]: 'critical' },
        mutedUntil: null,
      });
    } finally {
      await page.context().close();
    }
  });
});
