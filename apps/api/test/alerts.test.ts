import { randomUUID } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNotifySettings } from '@crucible/notify';
import type { NotifySettings } from '@crucible/notify';
import { auth, register, startApi, startTarget } from './helpers.js';
import type { Api } from './helpers.js';
import { startAlertingWorker, startHookReceiver, startSmtp, subjectOf, until } from './alert-receivers.js';

type User = Awaited<ReturnType<typeof register>>;

/**
 * Alert rules and incidents (issue 24) end to end: monitors on local targets, a worker that
 * settles their runs and sends the outbox, and local receivers for every channel.
 */
describe('alert rules and incidents', () => {
  let api: Api;
  let ann: User;
  let bob: User;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let settings: NotifySettings;
  let pagerduty: Awaited<ReturnType<typeof startHookReceiver>>;
  let failing = false;
  let site: Awaited<ReturnType<typeof startTarget>>;
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
    smtp = await startSmtp();
    pagerduty = await startHookReceiver(() => 202);
    settings = loadNotifySettings({
      SMTP_URL: smtp.url,
      ALERT_GROUP_WAIT_MS: '300',
      PAGERDUTY_EVENTS_URL: pagerduty.url,
      PUBLIC_URL: 'https://crucible.example',
    });
    api = await startApi({ monitorMinIntervalSeconds: 1, notify: settings });
    await register(api, `root-${randomUUID()}@example.test`);
    ann = await register(api, `ann-${randomUUID()}@example.test`);
    bob = await register(api, `bob-${randomUUID()}@example.test`);
    site = await startTarget((_req, res) => {
      res.writeHead(failing ? 500 : 200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
    await startAlertingWorker(api, settings);
  });
  afterAll(async () => {
    await api?.close();
    await site?.close();
    await smtp?.close();
    await pagerduty?.close();
  });

  const monitorBody = (name: string) => ({
    name,
    test: { testType: 'api', url: site.url, config: { steps: [{ name: 'home', assert: { status: 200 } }] } },
    schedule: { everySeconds: 1 },
  });

  it('rules: validated, defaults filled, CRUD, and another workspace sees 404', async () => {
    const monitor = await post(ann, '/api/monitors', { ...monitorBody('crud'), enabled: false });
    const channel = await post(ann, '/api/notification-channels', { name: 'me', type: 'in-app', config: {} });
    const rule = await post(ann, '/api/alert-rules', {
      name: 'slow',
      target: { monitorId: monitor.id },
      condition: { kind: 'threshold', expression: 'duration.total < 500' },
      severity: 'warning',
      channelIds: [channel.id],
    });
    expect(rule).toMatchObject({
      name: 'slow',
      target: { monitorId: monitor.id },
      condition: { kind: 'threshold', expression: 'duration.total < 500' },
      failAfter: 2,
      recoverAfter: 2,
      remindEveryMinutes: null,
      severity: 'warning',
      channelIds: [channel.id],
    });

    // The verdicts' threshold language, checked against the monitor's type.
    const bad = await as(ann, {
      method: 'POST',
      url: '/api/alert-rules',
      payload: { ...rule, id: undefined },
    });
    expect(bad.statusCode).toBe(400);
    const unknownMetric = await as(ann, {
      method: 'POST',
      url: '/api/alert-rules',
      payload: {
        name: 'x',
        target: { monitorId: monitor.id },
        condition: { kind: 'threshold', expression: 'latency.p95 < 500' },
        severity: 'info',
        channelIds: [],
      },
    });
    expect(unknownMetric.statusCode).toBe(400);
    expect(unknownMetric.json()).toMatchObject({ code: 'INVALID_THRESHOLD' });
    expect(unknownMetric.json().detail).toMatch(
      /^condition.expression: threshold "latency.p95 < 500": api tests have no metric/,
    );
    const unreadable = await as(ann, {
      method: 'POST',
      url: '/api/alert-rules',
      payload: {
        name: 'x',
        target: { allMonitors: true },
        condition: { kind: 'threshold', expression: 'latency.p95 <' },
        severity: 'info',
        channelIds: [],
      },
    });
    expect(unreadable.json()).toMatchObject({ status: 400, code: 'INVALID_THRESHOLD' });
    for (const [field, value] of [
      ['failAfter', 0],
      ['recoverAfter', 21],
      ['remindEveryMinutes', 4],
    ] as const) {
      const res = await as(ann, {
        method: 'POST',
        url: '/api/alert-rules',
        payload: {
          name: 'x',
          target: { allMonitors: true },
          condition: { kind: 'down' },
          severity: 'info',
          channelIds: [],
          [field]: value,
        },
      });
      expect(res.statusCode, `${field} ${value}`).toBe(400);
    }

    // Bob's workspace: Ann's monitor, channel and rule are not found.
    const bobsChannel = await post(bob, '/api/notification-channels', {
      name: 'bob',
      type: 'in-app',
      config: {},
    });
    for (const payload of [
      {
        name: 'x',
        target: { monitorId: monitor.id },
        condition: { kind: 'down' },
        severity: 'info',
        channelIds: [],
      },
      {
        name: 'x',
        target: { allMonitors: true },
        condition: { kind: 'down' },
        severity: 'info',
        channelIds: [channel.id],
      },
    ]) {
      const res = await as(bob, { method: 'POST', url: '/api/alert-rules', payload });
      expect(res.statusCode, res.body).toBe(404);
    }
    const mixed = await as(ann, {
      method: 'PATCH',
      url: `/api/alert-rules/${rule.id}`,
      payload: { channelIds: [channel.id, bobsChannel.id] },
    });
    expect(mixed.statusCode).toBe(404);
    expect((await as(bob, { method: 'GET', url: `/api/alert-rules/${rule.id}` })).statusCode).toBe(404);
    expect(
      (await as(bob, { method: 'PATCH', url: `/api/alert-rules/${rule.id}`, payload: { name: 'mine' } }))
        .statusCode,
    ).toBe(404);
    expect((await as(bob, { method: 'DELETE', url: `/api/alert-rules/${rule.id}` })).statusCode).toBe(404);
    expect((await get(bob, '/api/alert-rules')).items).toEqual([]);

    const changed = await as(ann, {
      method: 'PATCH',
      url: `/api/alert-rules/${rule.id}`,
      payload: {
        target: { allMonitors: true },
        condition: { kind: 'down' },
        failAfter: 3,
        remindEveryMinutes: 5,
        channelIds: [],
      },
    });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(changed.json()).toMatchObject({
      target: { allMonitors: true },
      condition: { kind: 'down' },
      failAfter: 3,
      recoverAfter: 2,
      remindEveryMinutes: 5,
      channelIds: [],
    });
    expect((await get(ann, '/api/alert-rules')).items.map((r: { id: string }) => r.id)).toEqual([rule.id]);
    expect((await as(ann, { method: 'DELETE', url: `/api/alert-rules/${rule.id}` })).statusCode).toBe(204);
    expect((await as(ann, { method: 'GET', url: `/api/alert-rules/${rule.id}` })).statusCode).toBe(404);
    await as(ann, { method: 'DELETE', url: `/api/monitors/${monitor.id}` });
  });

  it('a failing monitor opens one incident, told once per webhook-id (signed, after 503s), by email and in-app; healthy again resolves it', async () => {
    // The webhook's receiver answers 503 for its first 2 s, then 200.
    let firstAt: number | undefined;
    const hook = await startHookReceiver(() => {
      firstAt ??= Date.now();
      return Date.now() - firstAt < 2_000 ? 503 : 200;
    });
    try {
      const webhook = await post(ann, '/api/notification-channels', {
        name: 'hook',
        type: 'webhook',
        config: { url: hook.url },
      });
      const email = await post(ann, '/api/notification-channels', {
        name: 'mail',
        type: 'email',
        config: { to: 'ops@example.test' },
      });
      const inApp = await post(ann, '/api/notification-channels', {
        name: 'bell',
        type: 'in-app',
        config: {},
      });
      const monitor = await post(ann, '/api/monitors', monitorBody('Shop checkout'));
      const rule = await post(ann, '/api/alert-rules', {
        name: 'Checkout down',
        target: { monitorId: monitor.id },
        condition: { kind: 'down' },
        failAfter: 2,
        recoverAfter: 2,
        severity: 'critical',
        channelIds: [webhook.id, email.id, inApp.id],
      });
      failing = true;

      const incident = await until(
        'an open incident',
        async () => (await get(ann, '/api/incidents?status=open')).items[0],
      );
      expect(incident).toMatchObject({
        ruleId: rule.id,
        monitorId: monitor.id,
        monitorName: 'Shop checkout',
        ruleName: 'Checkout down',
        severity: 'critical',
        status: 'open',
        resolvedAt: null,
      });
      const openedOk = () =>
        hook.received.filter((r) => r.status === 200 && JSON.parse(r.body).type === 'incident.opened');
      await until('incident.opened delivered to the webhook', async () => openedOk().length > 0);
      await until('the email', async () => smtp.mails.length > 0);
      const bell = await until(
        'the in-app notification',
        async () => (await get(ann, '/api/notifications')).items[0],
      );
      expect(bell).toMatchObject({
        incidentId: incident.id,
        severity: 'critical',
        title: 'Incident opened: Shop checkout: Checkout down',
      });
      expect(smtp.mails[0]!.to).toEqual(['ops@example.test']);
      expect(subjectOf(smtp.mails[0]!.raw)).toContain('Shop checkout');

      failing = false;
      const resolved = await until('the incident resolved', async () => {
        const one = await get(ann, `/api/incidents/${incident.id}`);
        return one.status === 'resolved' && one;
      });
      await until('incident.resolved delivered to the webhook', async () =>
        hook.received.some((r) => r.status === 200 && JSON.parse(r.body).type === 'incident.resolved'),
      );
      await as(ann, { method: 'PATCH', url: `/api/monitors/${monitor.id}`, payload: { enabled: false } });

      // Every request signed with the channel's secret; each event keeps its webhook-id on every
      // retry, and reaches the receiver (200) once.
      const verifier = new Webhook(webhook.secret);
      const bodies = hook.received.map((r) => ({
        ...r,
        body: verifier.verify(r.body, r.headers as Record<string, string>) as {
          type: string;
          data: Record<string, any>;
        },
      }));
      const byId = new Map<string, typeof bodies>();
      for (const r of bodies)
        byId.set(r.headers['webhook-id'] as string, [
          ...(byId.get(r.headers['webhook-id'] as string) ?? []),
          r,
        ]);
      const types = [...byId.values()].map((attempts) => attempts[0]!.body.type);
      expect(types).toEqual(['incident.opened', 'incident.resolved']);
      for (const attempts of byId.values()) {
        expect(attempts.filter((a) => a.status === 200)).toHaveLength(1);
        expect(new Set(attempts.map((a) => JSON.stringify(a.body)))).toHaveProperty('size', 1);
      }
      const opened = [...byId.values()][0]!;
      expect(opened.length).toBeGreaterThan(1);
      expect(opened.slice(0, -1).every((a) => a.status === 503)).toBe(true);
      expect(opened[0]!.body.data).toMatchObject({
        severity: 'critical',
        title: 'Shop checkout: Checkout down',
        incident: { id: incident.id, key: incident.key, status: 'open' },
        monitor: { id: monitor.id, name: 'Shop checkout' },
        incidents: [
          { incident: { id: incident.id, url: `https://crucible.example/incidents/${incident.id}` } },
        ],
      });
      // The dashboard's page of the incident (PUBLIC_URL), in the body and in every template.
      expect(opened[0]!.body.data.url).toBe(`https://crucible.example/incidents/${incident.id}`);
      expect(opened[0]!.body.data.incident.url).toBe(`https://crucible.example/incidents/${incident.id}`);
      expect(smtp.mails[0]!.raw.replaceAll('=\r\n', '')).toContain(
        `Open in Crucible: https://crucible.example/incidents/${incident.id}`,
      );
      // In-app needs no link in its text: the notification centre links it by incidentId.
      expect(bell.body).toBe('Rule "Checkout down" fails on monitor "Shop checkout".');
      expect([...byId.values()][1]![0]!.body.data).toMatchObject({
        incident: { id: incident.id, status: 'resolved' },
      });

      // The timeline: the two failing runs that opened it, the two passing ones that resolved it,
      // and each notification with its three deliveries and their attempts.
      expect(resolved.resolvedBy).toBeNull();
      expect(resolved.openedBy.map((r: { state: string }) => r.state)).toEqual(['down', 'down']);
      expect(resolved.resolvedByRuns.map((r: { state: string }) => r.state)).toEqual(['up', 'up']);
      // An opening is grouped per channel (one notification each); the resolution goes to all three at once.
      type Note = {
        type: string;
        deliveries: { channelId: string; status: string; attempts: { status: string }[] }[];
      };
      const notes = resolved.notifications as Note[];
      expect(notes.map((n) => n.type)).toEqual([
        'incident.opened',
        'incident.opened',
        'incident.opened',
        'incident.resolved',
      ]);
      const deliveriesOf = (type: string) =>
        notes.filter((n) => n.type === type).flatMap((n) => n.deliveries);
      const all = [webhook.id, email.id, inApp.id].sort();
      expect(
        deliveriesOf('incident.opened')
          .map((d) => d.channelId)
          .sort(),
      ).toEqual(all);
      expect(
        deliveriesOf('incident.resolved')
          .map((d) => d.channelId)
          .sort(),
      ).toEqual(all);
      expect(deliveriesOf('incident.opened').map((d) => d.status)).toEqual([
        'delivered',
        'delivered',
        'delivered',
      ]);
      const hookDelivery = deliveriesOf('incident.opened').find((d) => d.channelId === webhook.id)!;
      expect(hookDelivery.status).toBe('delivered');
      expect(hookDelivery.attempts.map((a) => a.status)).toEqual([
        'pending',
        ...opened.slice(0, -1).map(() => 'retrying'),
        'delivered',
      ]);
      await until('the resolved email', async () => smtp.mails.length >= 2);
      expect(smtp.mails).toHaveLength(2);
      expect(subjectOf(smtp.mails[1]!.raw)).toContain('Resolved: Shop checkout');
      expect((await get(ann, '/api/incidents')).items).toHaveLength(1);
      expect((await as(bob, { method: 'GET', url: `/api/incidents/${incident.id}` })).statusCode).toBe(404);
      expect(
        (await as(bob, { method: 'POST', url: `/api/incidents/${incident.id}/acknowledge` })).statusCode,
      ).toBe(404);
      expect((await get(bob, '/api/incidents')).items).toEqual([]);
    } finally {
      failing = false;
      await hook.close();
    }
  });

  it('reminds an open incident until acknowledged; acknowledge and resolve by hand tell every channel, PagerDuty by the incident key', async () => {
    const hook = await startHookReceiver(() => 200);
    try {
      const webhook = await post(ann, '/api/notification-channels', {
        name: 'hook 2',
        type: 'webhook',
        config: { url: hook.url },
      });
      const pd = await post(ann, '/api/notification-channels', {
        name: 'pd',
        type: 'pagerduty',
        config: { routingKey: 'R0UT1NGKEY' },
      });
      const monitor = await post(ann, '/api/monitors', monitorBody('Search'));
      await post(ann, '/api/alert-rules', {
        name: 'Search down',
        target: { monitorId: monitor.id },
        condition: { kind: 'down' },
        failAfter: 1,
        remindEveryMinutes: 5,
        severity: 'warning',
        channelIds: [webhook.id, pd.id],
      });
      failing = true;
      const incident = await until('an open incident of Search', async () =>
        (await get(ann, '/api/incidents?status=open')).items.find(
          (i: { monitorName: string }) => i.monitorName === 'Search',
        ),
      );
      await as(ann, { method: 'PATCH', url: `/api/monitors/${monitor.id}`, payload: { enabled: false } });
      const typesSeen = () => hook.received.map((r) => JSON.parse(r.body).type as string);
      await until('incident.opened', async () => typesSeen().includes('incident.opened'));

      // Its reminder falls due (five minutes are not waited for here): a worker's sweep sends it once.
      await api.db.kysely
        .updateTable('incidents')
        .set({ next_remind_at: new Date(Date.now() - 1000) })
        .where('id', '=', incident.id)
        .execute();
      await until('incident.reminder', async () => typesSeen().includes('incident.reminder'));
      const reminded = await get(ann, `/api/incidents/${incident.id}`);
      expect(reminded.reminders).toBe(1);

      const acked = await post(ann, `/api/incidents/${incident.id}/acknowledge`, {}, 200);
      expect(acked).toMatchObject({ status: 'acknowledged', acknowledgedBy: ann.id });
      expect(await post(ann, `/api/incidents/${incident.id}/acknowledge`, {}, 409)).toMatchObject({
        code: 'INCIDENT_STATE',
      });
      await until('incident.acknowledged', async () => typesSeen().includes('incident.acknowledged'));
      const row = await api.db.kysely
        .selectFrom('incidents')
        .select('next_remind_at')
        .where('id', '=', incident.id)
        .executeTakeFirstOrThrow();
      expect(row.next_remind_at).toBeNull();

      const resolved = await post(ann, `/api/incidents/${incident.id}/resolve`, {}, 200);
      expect(resolved).toMatchObject({ status: 'resolved', resolvedBy: ann.id });
      expect(await post(ann, `/api/incidents/${incident.id}/resolve`, {}, 409)).toMatchObject({
        code: 'INCIDENT_STATE',
      });
      await until('incident.resolved', async () => typesSeen().includes('incident.resolved'));
      expect(typesSeen()).toEqual([
        'incident.opened',
        'incident.reminder',
        'incident.acknowledged',
        'incident.resolved',
      ]);

      await until('PagerDuty told four times', async () => pagerduty.received.length >= 4);
      const events = pagerduty.received.map(
        (r) => JSON.parse(r.body) as { event_action: string; dedup_key: string; routing_key: string },
      );
      expect(events.map((e) => e.event_action)).toEqual(['trigger', 'trigger', 'acknowledge', 'resolve']);
      expect(new Set(events.map((e) => e.dedup_key))).toEqual(new Set([incident.key]));
      expect(events[0]!.routing_key).toBe('R0UT1NGKEY');
      const list = await get(ann, '/api/incidents?status=resolved&limit=1');
      expect(list.items.map((i: { id: string }) => i.id)).toEqual([incident.id]);
      expect(list.nextCursor).not.toBeNull();
      const next = await get(ann, `/api/incidents?status=resolved&limit=1&cursor=${list.nextCursor}`);
      expect(next.items.map((i: { id: string }) => i.id)).not.toContain(incident.id);
      expect((await as(ann, { method: 'GET', url: '/api/incidents?cursor=bogus' })).statusCode).toBe(400);
      // One monitor's incidents: this one's only; another monitor has none.
      const ofMonitor = await get(ann, `/api/incidents?monitorId=${incident.monitorId}`);
      expect(ofMonitor.items.map((i: { id: string }) => i.id)).toContain(incident.id);
      expect(new Set(ofMonitor.items.map((i: { monitorId: string }) => i.monitorId))).toEqual(
        new Set([incident.monitorId]),
      );
      expect((await get(ann, `/api/incidents?monitorId=${randomUUID()}`)).items).toEqual([]);
      expect((await as(ann, { method: 'GET', url: '/api/incidents?monitorId=x' })).statusCode).toBe(400);
    } finally {
      failing = false;
      await hook.close();
    }
  });

  it('inside a maintenance window a run by hand still opens the incident, its deliveries recorded suppressed and never sent', async () => {
    const hook = await startHookReceiver(() => 200);
    try {
      const webhook = await post(ann, '/api/notification-channels', {
        name: 'hook 3',
        type: 'webhook',
        config: { url: hook.url },
      });
      const monitor = await post(ann, '/api/monitors', {
        ...monitorBody('Billing'),
        schedule: { everySeconds: 3600 },
      });
      await post(ann, '/api/alert-rules', {
        name: 'Billing down',
        target: { monitorId: monitor.id },
        condition: { kind: 'down' },
        failAfter: 1,
        severity: 'critical',
        channelIds: [webhook.id],
      });
      await post(ann, '/api/maintenance-windows', {
        name: 'upgrade',
        monitorIds: [monitor.id],
        startsAt: new Date(Date.now() - 60_000).toISOString(),
        endsAt: new Date(Date.now() + 3_600_000).toISOString(),
      });
      failing = true;
      await post(ann, `/api/monitors/${monitor.id}/run`, {}, 202);
      const incident = await until('an open incident of Billing', async () =>
        (await get(ann, '/api/incidents?status=open')).items.find(
          (i: { monitorName: string }) => i.monitorName === 'Billing',
        ),
      );
      const detail = await get(ann, `/api/incidents/${incident.id}`);
      expect(detail.notifications).toHaveLength(1);
      expect(detail.notifications[0].deliveries).toMatchObject([
        { channelId: webhook.id, status: 'suppressed', attempts: [{ attempt: 0, status: 'suppressed' }] },
      ]);
      // A dispatcher polls every 100 ms here: a suppressed delivery is never claimed.
      await new Promise((r) => setTimeout(r, 1_000));
      expect(hook.received).toEqual([]);
      // Its monitor deleted, the incident is resolved with it (by nobody, untold): nothing would judge it again.
      expect((await as(ann, { method: 'DELETE', url: `/api/monitors/${monitor.id}` })).statusCode).toBe(204);
      expect(await get(ann, `/api/incidents/${incident.id}`)).toMatchObject({
        status: 'resolved',
        resolvedBy: null,
        monitorId: null,
        monitorName: 'Billing',
      });
    } finally {
      failing = false;
      await hook.close();
    }
  });
});
