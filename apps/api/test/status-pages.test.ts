import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Egress, parseAllowlist } from '@crucible/egress';
import { loadNotifySettings } from '@crucible/notify';
import { auth, register, startApi, startTarget } from './helpers.js';
import type { Api } from './helpers.js';

type User = Awaited<ReturnType<typeof register>>;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/** Status pages (issue 23): public, read-only, only what was chosen, and cheap to read. */
describe('status pages', () => {
  let api: Api;
  let alice: User;
  let bob: User;
  let site: Awaited<ReturnType<typeof startTarget>>;
  /** Every query the api's database ran, in order. */
  const queries: string[] = [];

  beforeAll(async () => {
    api = await startApi({ monitorMinIntervalSeconds: 1, onQuery: (sql) => queries.push(sql) });
    alice = await register(api, `alice-${randomUUID()}@example.test`);
    bob = await register(api, `bob-${randomUUID()}@example.test`);
    site = await startTarget((req, res) => {
      res.writeHead(req.url?.includes('broken') ? 500 : 200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });

  afterAll(async () => {
    await api.close();
    await site.close();
  });

  const call = (user: User, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    api.app.inject({ method, url, headers: auth(user.token), ...(payload ? { payload } : {}) });
  const anyone = (url: string, headers: Record<string, string> = {}) =>
    api.app.inject({ method: 'GET', url, headers });

  async function monitor(user: User, name: string, everySeconds = 3600) {
    const res = await call(user, 'POST', '/api/monitors', {
      name,
      test: {
        testType: 'api',
        url: `${site.url}${name}`,
        config: { steps: [{ name: 'home', assert: { status: 200 } }] },
      },
      schedule: { everySeconds },
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { id: string };
  }

  it("creates, edits and deletes pages of the workspace's own monitors only", async () => {
    const mine = await monitor(alice, 'mine');
    const theirs = await monitor(bob, 'theirs');
    const slug = `acme-${randomUUID().slice(0, 8)}`;
    const created = await call(alice, 'POST', '/api/status-pages', {
      slug,
      title: 'Acme',
      monitorIds: [mine.id],
    });
    expect(created.statusCode, created.body).toBe(201);
    const page = created.json();
    expect(page).toMatchObject({ slug, title: 'Acme', monitorIds: [mine.id], public: true, showUrls: false });

    // Bob's monitor cannot go on Alice's page: as far as her workspace knows, it does not exist.
    const stranger = await call(alice, 'POST', '/api/status-pages', {
      slug: `${slug}-2`,
      title: 'x',
      monitorIds: [mine.id, theirs.id],
    });
    expect(stranger.statusCode).toBe(404);
    expect(stranger.json()).toMatchObject({ code: 'NOT_FOUND', detail: `Monitor ${theirs.id} not found` });
    const added = await call(alice, 'PATCH', `/api/status-pages/${page.id}`, { monitorIds: [theirs.id] });
    expect(added.statusCode).toBe(404);
    expect((await call(alice, 'GET', `/api/status-pages/${page.id}`)).json().monitorIds).toEqual([mine.id]);

    const taken = await call(bob, 'POST', '/api/status-pages', {
      slug,
      title: 'Mine now',
      monitorIds: [theirs.id],
    });
    expect(taken.statusCode).toBe(409);
    expect(taken.json().code).toBe('SLUG_TAKEN');
    expect(
      (await call(alice, 'POST', '/api/status-pages', { slug: 'Not A Slug', title: 'x', monitorIds: [] }))
        .statusCode,
    ).toBe(400);

    expect((await call(bob, 'GET', `/api/status-pages/${page.id}`)).statusCode).toBe(404);
    expect((await call(bob, 'PATCH', `/api/status-pages/${page.id}`, { title: 'pwned' })).statusCode).toBe(
      404,
    );
    expect((await call(bob, 'DELETE', `/api/status-pages/${page.id}`)).statusCode).toBe(404);
    expect(
      (await call(bob, 'GET', '/api/status-pages')).json().items.map((p: { slug: string }) => p.slug),
    ).toEqual([]);
    expect(
      (await call(alice, 'GET', '/api/status-pages')).json().items.map((p: { slug: string }) => p.slug),
    ).toEqual([slug]);

    expect((await anyone(`/status/${slug}.json`)).statusCode).toBe(200);
    // A deleted monitor leaves the page: the page stays editable without it.
    const gone = await monitor(alice, 'gone');
    await call(alice, 'PATCH', `/api/status-pages/${page.id}`, { monitorIds: [mine.id, gone.id] });
    expect((await call(alice, 'DELETE', `/api/monitors/${gone.id}`)).statusCode).toBe(204);
    expect((await call(alice, 'GET', `/api/status-pages/${page.id}`)).json().monitorIds).toEqual([mine.id]);
    expect(
      (await call(alice, 'PATCH', `/api/status-pages/${page.id}`, { title: 'Acme Inc' })).statusCode,
    ).toBe(200);
    expect((await call(alice, 'DELETE', `/api/status-pages/${page.id}`)).statusCode).toBe(204);
    expect((await anyone(`/status/${slug}.json`)).statusCode).toBe(404);
  });

  it('is public and read-only, and shows only what was chosen: no ids, no URLs unless opted in', async () => {
    // Notifications on: the worker judges alert rules only then (an incident is listed below).
    const worker = await api.startWorker({
      notifications: {
        settings: loadNotifySettings({}),
        egress: new Egress({ allowlist: parseAllowlist('127.0.0.1') }),
      },
    });
    const shown = await monitor(alice, 'checkout', 1);
    await monitor(alice, 'admin-panel', 1);
    const status = async (id: string) => (await call(alice, 'GET', `/api/monitors/${id}`)).json().status;
    await expect.poll(() => status(shown.id), { timeout: 20_000 }).toBe('up');

    const slug = `shop-${randomUUID().slice(0, 8)}`;
    const created = await call(alice, 'POST', '/api/status-pages', {
      slug,
      title: 'Shop <status>',
      monitorIds: [shown.id],
    });
    expect(created.statusCode, created.body).toBe(201);

    const html = await anyone(`/status/${slug}`);
    expect(html.statusCode).toBe(200);
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(html.headers['cache-control']).toBe('public, max-age=30');
    expect(html.body).toContain('<title>Shop &lt;status&gt;</title>');
    expect(html.body).toContain('checkout');
    expect(html.body).not.toContain('admin-panel');
    expect(html.body).not.toContain(site.url);
    expect(html.body).not.toMatch(UUID);
    expect(html.body).not.toContain('<script');

    const json = await anyone(`/status/${slug}.json`);
    expect(json.statusCode).toBe(200);
    expect(json.headers['cache-control']).toBe('public, max-age=30');
    const body = json.json();
    expect(json.body).not.toMatch(UUID);
    expect(body).toMatchObject({ title: 'Shop <status>', overall: 'up', incidents: [] });
    expect(body.monitors).toHaveLength(1);
    const [m] = body.monitors;
    expect(Object.keys(m).sort()).toEqual(['days', 'name', 'status', 'uptime90d']);
    expect(m).toMatchObject({ name: 'checkout', status: 'up', uptime90d: 100 });
    expect(m.days).toHaveLength(90);
    expect(m.days.at(-1)).toEqual({ date: new Date().toISOString().slice(0, 10), uptime: 100 });
    expect(m.days.slice(0, -2).every((d: { uptime: number | null }) => d.uptime === null)).toBe(true);
    // The same page as JSON by content negotiation.
    const negotiated = await anyone(`/status/${slug}`, { accept: 'application/json' });
    expect(negotiated.json()).toEqual(body);

    // An alert rule's open incident on a chosen monitor is listed by names only.
    const broken = await monitor(alice, 'payments-broken', 1);
    const rule = await call(alice, 'POST', '/api/alert-rules', {
      name: 'Payments failing',
      target: { monitorId: broken.id },
      condition: { kind: 'down' },
      failAfter: 1,
      severity: 'critical',
      channelIds: [],
    });
    expect(rule.statusCode, rule.body).toBe(201);
    await expect
      .poll(async () => (await call(alice, 'GET', '/api/incidents?status=open')).json().items.length, {
        timeout: 20_000,
      })
      .toBe(1);
    const withBroken = await call(alice, 'PATCH', `/api/status-pages/${created.json().id}`, {
      monitorIds: [shown.id, broken.id],
    });
    expect(withBroken.statusCode, withBroken.body).toBe(200);
    const incidentPage = await anyone(`/status/${slug}.json`);
    expect(incidentPage.body).not.toMatch(UUID);
    expect(incidentPage.json()).toMatchObject({
      overall: 'down',
      incidents: [{ monitor: 'payments-broken', title: 'Payments failing', since: expect.any(String) }],
    });
    expect((await anyone(`/status/${slug}`)).body).toContain('payments-broken: Payments failing');
    expect((await call(alice, 'DELETE', `/api/monitors/${broken.id}`)).statusCode).toBe(204);
    await call(alice, 'PATCH', `/api/status-pages/${created.json().id}`, { monitorIds: [shown.id] });

    // Opting in shows the target URL, at once (the owner's change drops the cached page).
    const page = created.json();
    await call(alice, 'PATCH', `/api/status-pages/${page.id}`, { showUrls: true });
    expect((await anyone(`/status/${slug}.json`)).json().monitors[0].url).toBe(`${site.url}checkout`);
    await call(alice, 'PATCH', `/api/status-pages/${page.id}`, { public: false });
    expect((await anyone(`/status/${slug}`)).statusCode).toBe(404);
    expect((await anyone('/status/no-such-page')).statusCode).toBe(404);
    // Read-only: the public path takes no writes.
    expect((await api.app.inject({ method: 'POST', url: `/status/${slug}` })).statusCode).toBe(404);
    // The cache test counts every query: no scheduler may run beside it.
    await worker.close();
  }, 60_000);

  it('serves 1,000 reads with no database query beyond the first', async () => {
    const a = await monitor(alice, 'api');
    const b = await monitor(alice, 'web');
    const slug = `cheap-${randomUUID().slice(0, 8)}`;
    const created = await call(alice, 'POST', '/api/status-pages', {
      slug,
      title: 'Cheap',
      monitorIds: [a.id, b.id],
    });
    expect(created.statusCode, created.body).toBe(201);

    const before = queries.length;
    const first = await anyone(`/status/${slug}`);
    expect(first.statusCode).toBe(200);
    const perRead = queries.length - before;
    expect(perRead).toBeGreaterThan(0);
    // 999 more, a hundred at a time, HTML and JSON alike: all from the cache.
    for (let i = 0; i < 999; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(100, 999 - i) }, (_, j) =>
          anyone((i + j) % 2 ? `/status/${slug}.json` : `/status/${slug}`),
        ),
      );
      expect(batch.every((r) => r.statusCode === 200)).toBe(true);
    }
    expect(queries.slice(before + perRead)).toEqual([]);

    // After the owner changes it, a hundred readers at once cost one computation, not a hundred.
    await call(alice, 'PATCH', `/api/status-pages/${created.json().id}`, { title: 'Cheaper' });
    const afterEdit = queries.length;
    const burst = await Promise.all(Array.from({ length: 100 }, () => anyone(`/status/${slug}.json`)));
    expect(burst.every((r) => r.json().title === 'Cheaper')).toBe(true);
    expect(queries.length - afterEdit).toBe(perRead);
  });
});
