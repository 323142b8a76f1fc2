import { randomUUID } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNotifySettings } from '@crucible/notify';
import { auth, register, startApi, startTarget } from './helpers.js';
import type { Api } from './helpers.js';
import { startAlertingWorker, startHookReceiver, until } from './alert-receivers.js';

type User = Awaited<ReturnType<typeof register>>;

/**
 * `GET /api/incidents/stats` (issue 24). The incidents, their acknowledgement and resolution and
 * every notification and delivery are made through the real path (monitors failing on a local
 * target, a worker settling runs and sending the outbox to local receivers, the API's acknowledge
 * and resolve). Only their timestamps are then moved, by one UPDATE per row, to whole-minute
 * instants an hour ago, because real ones are microseconds apart from nothing the test controls:
 * the expected durations below are exact.
 */
describe('incident statistics', () => {
  let api: Api;
  let ann: User;
  let bob: User;
  let vic: User;
  let workspaceId: string;
  let site: Awaited<ReturnType<typeof startTarget>>;
  let ok: Awaited<ReturnType<typeof startHookReceiver>>;
  let ok2: Awaited<ReturnType<typeof startHookReceiver>>;
  let gone: Awaited<ReturnType<typeof startHookReceiver>>;
  let failing = true;
  const as = (user: User, options: InjectOptions) =>
    api.app.inject({ ...options, headers: { ...options.headers, ...auth(user.token) } });
  const post = async (user: User, url: string, payload: object, status = 201) => {
    const res = await as(user, { method: 'POST', url, payload });
    expect(res.statusCode, res.body).toBe(status);
    return res.json();
  };
  const get = async (user: User, url: string) => {
    const res = await as(user, { method: 'GET', url });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };

  beforeAll(async () => {
    const settings = loadNotifySettings({ ALERT_GROUP_WAIT_MS: '100' });
    api = await startApi({ monitorMinIntervalSeconds: 1, notify: settings });
    await register(api, `root-${randomUUID()}@example.test`);
    const vicEmail = `vic-${randomUUID()}@example.test`;
    ann = await register(api, `ann-${randomUUID()}@example.test`);
    bob = await register(api, `bob-${randomUUID()}@example.test`);
    vic = await register(api, vicEmail);
    const workspaces = await get(ann, '/api/workspaces');
    workspaceId = (workspaces.items as { id: string; personal: boolean }[]).find((w) => w.personal)!.id;
    const invited = await post(ann, `/api/workspaces/${workspaceId}/invitations`, {
      email: vicEmail,
      role: 'viewer',
    });
    await post(vic, `/api/invitations/${invited.token}/accept`, {}, 200);
    site = await startTarget((_req, res) => {
      res.writeHead(failing ? 500 : 200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
    ok = await startHookReceiver(() => 200);
    ok2 = await startHookReceiver(() => 200);
    gone = await startHookReceiver(() => 410);
    await startAlertingWorker(api, settings);
  });
  afterAll(async () => {
    await api?.close();
    await site?.close();
    await ok?.close();
    await ok2?.close();
    await gone?.close();
  });

  it('per rule and per monitor: incidents, time down clipped to the range, MTTA, MTTR, notifications sent and failed', async () => {
    const channel = async (name: string, url: string) =>
      (await post(ann, '/api/notification-channels', { name, type: 'webhook', config: { url } }))
        .id as string;
    const okId = await channel('ok', ok.url);
    const goneId = await channel('gone', gone.url);
    const ok2Id = await channel('ok 2', ok2.url);
    const monitor = async (name: string) =>
      (
        await post(ann, '/api/monitors', {
          name,
          test: {
            testType: 'api',
            url: site.url,
            config: { steps: [{ name: 'home', assert: { status: 200 } }] },
          },
          schedule: { everySeconds: 1 },
        })
      ).id as string;
    const checkout = await monitor('Checkout');
    const search = await monitor('Search');
    const rule = async (name: string, monitorId: string, channelIds: string[]) =>
      (
        await post(ann, '/api/alert-rules', {
          name,
          target: { monitorId },
          condition: { kind: 'down' },
          failAfter: 1,
          recoverAfter: 1,
          severity: 'critical',
          channelIds,
        })
      ).id as string;
    const checkoutRule = await rule('Checkout down', checkout, [okId, goneId]);
    const searchRule = await rule('Search down', search, [ok2Id]);

    type Incident = { id: string; monitorName: string };
    const [first, second] = await until('both incidents open', async () => {
      const open = (await get(ann, '/api/incidents?status=open')).items as Incident[];
      const a = open.find((i) => i.monitorName === 'Checkout');
      const b = open.find((i) => i.monitorName === 'Search');
      return a && b ? [a, b] : undefined;
    });
    for (const id of [checkout, search])
      await as(ann, { method: 'PATCH', url: `/api/monitors/${id}`, payload: { enabled: false } });
    await post(ann, `/api/incidents/${first.id}/acknowledge`, {}, 200);
    await post(ann, `/api/incidents/${first.id}/resolve`, {}, 200);
    await post(ann, `/api/incidents/${second.id}/resolve`, {}, 200);
    failing = false;

    // Checkout's three notifications reach "ok" and fail at "gone" (410, then the channel is
    // disabled and the others fail unsent — or, already in flight beside the first, are answered
    // 410 too); Search's two reach "ok 2".
    const unsettled = async () =>
      api.db.kysely
        .selectFrom('notification_deliveries as d')
        .innerJoin('notification_events as e', 'e.id', 'd.event_id')
        .select('d.id')
        .where('e.workspace_id', '=', workspaceId)
        .where('d.status', 'not in', ['delivered', 'failed'])
        .execute();
    await until(
      'every delivery delivered or failed',
      async () => ok.received.length >= 3 && ok2.received.length >= 2 && (await unsettled()).length === 0,
    );
    expect(ok.received).toHaveLength(3);
    expect(ok2.received).toHaveLength(2);
    // As many as were sent before the first 410 disabled the channel: one, or up to all three at once.
    expect(gone.received.length).toBeGreaterThanOrEqual(1);
    expect(gone.received.length).toBeLessThanOrEqual(3);
    expect(gone.received.every((r) => r.status === 410)).toBe(true);

    const t0 = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000;
    const at = (seconds: number) => new Date(t0 + seconds * 1000);
    await api.db.kysely
      .updateTable('incidents')
      .set({ opened_at: at(0), acknowledged_at: at(60), resolved_at: at(300) })
      .where('id', '=', first.id)
      .execute();
    await api.db.kysely
      .updateTable('incidents')
      .set({ opened_at: at(120), resolved_at: at(720) })
      .where('id', '=', second.id)
      .execute();
    await api.db.kysely
      .updateTable('notification_events')
      .set({ created_at: at(30) })
      .where('workspace_id', '=', workspaceId)
      .execute();
    const stats = (user: User, from: number, to: number) =>
      get(user, `/api/incidents/stats?from=${at(from).toISOString()}&to=${at(to).toISOString()}`);

    const checkoutFigures = {
      incidents: 1,
      timeDownMs: 300_000,
      mttaMs: 60_000,
      mttrMs: 300_000,
      notificationsSent: 3,
      notificationsFailed: 3,
    };
    const searchFigures = {
      incidents: 1,
      timeDownMs: 600_000,
      mttaMs: null,
      mttrMs: 600_000,
      notificationsSent: 2,
      notificationsFailed: 0,
    };
    const hour = await stats(ann, 0, 3600);
    expect(hour).toEqual({
      from: at(0).toISOString(),
      to: at(3600).toISOString(),
      rules: [
        { ruleId: searchRule, ruleName: 'Search down', ...searchFigures },
        { ruleId: checkoutRule, ruleName: 'Checkout down', ...checkoutFigures },
      ],
      monitors: [
        { monitorId: search, monitorName: 'Search', ...searchFigures },
        { monitorId: checkout, monitorName: 'Checkout', ...checkoutFigures },
      ],
    });

    // 1 to 10 minutes: Checkout's incident opened before (not counted, nor its MTTA/MTTR) and is
    // down 1–5 min; Search's opened at 2 and is down until the range ends; the notifications were
    // written at 0:30, outside.
    const clipped = await stats(ann, 60, 600);
    expect(clipped.rules).toEqual([
      {
        ruleId: searchRule,
        ruleName: 'Search down',
        ...searchFigures,
        timeDownMs: 480_000,
        notificationsSent: 0,
      },
      {
        ruleId: checkoutRule,
        ruleName: 'Checkout down',
        incidents: 0,
        timeDownMs: 240_000,
        mttaMs: null,
        mttrMs: null,
        notificationsSent: 0,
        notificationsFailed: 0,
      },
    ]);
    expect(await stats(ann, 800, 900)).toMatchObject({ rules: [], monitors: [] });

    // A viewer reads them; a non-member finds nothing there, as for everything else.
    const query = `from=${at(0).toISOString()}&to=${at(3600).toISOString()}&workspace=${workspaceId}`;
    expect(await get(vic, `/api/incidents/stats?${query}`)).toEqual(hour);
    const outsider = await as(bob, { method: 'GET', url: `/api/incidents/stats?${query}` });
    expect(outsider.statusCode).toBe(404);

    // A deleted rule's incidents stay, grouped by the name they kept.
    const deleted = await as(ann, { method: 'DELETE', url: `/api/alert-rules/${searchRule}` });
    expect(deleted.statusCode).toBe(204);
    expect((await stats(ann, 0, 3600)).rules[0]).toEqual({
      ruleId: null,
      ruleName: 'Search down',
      ...searchFigures,
    });
  }, 90_000);

  it('refuses a range that is not one: 400 problem+json', async () => {
    for (const [query, detail] of [
      ['from=yesterday&to=2026-12-01T00:00:00Z', /^from: "yesterday" is not an ISO 8601 date-time$/],
      ['from=2026-12-01T00:00:00Z&to=2026-13-45', /^to: /],
      ['from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z', /^from is later than to$/],
    ] as const) {
      const res = await as(ann, { method: 'GET', url: `/api/incidents/stats?${query}` });
      expect(res.statusCode, query).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ status: 400, code: 'INVALID_RANGE' });
      expect(res.json().detail).toMatch(detail);
    }
    const missing = await as(ann, { method: 'GET', url: '/api/incidents/stats?from=2026-12-01T00:00:00Z' });
    expect(missing.statusCode).toBe(400);
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});
