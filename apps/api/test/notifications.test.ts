import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { Priority } from '@crucible/contracts';
import { NotificationDeliveriesRepository } from '@crucible/db';
import { Egress, parseAllowlist } from '@crucible/egress';
import { loadNotifySettings, webhookIdOf } from '@crucible/notify';
import { auth, register, startApi, startTarget } from './helpers.js';
import type { Api } from './helpers.js';

type User = Awaited<ReturnType<typeof register>>;

describe('notification channels and in-app notifications', () => {
  let api: Api;
  let ann: User;
  let bob: User;
  const as = (user: User, options: InjectOptions) =>
    api.app.inject({ ...options, headers: { ...options.headers, ...auth(user.token) } });

  beforeAll(async () => {
    api = await startApi();
    await register(api, `root-${randomUUID()}@example.test`);
    ann = await register(api, `ann-${randomUUID()}@example.test`);
    bob = await register(api, `bob-${randomUUID()}@example.test`);
  });
  afterAll(async () => {
    await api?.close();
  });

  it('a webhook channel: its secret shown once, a signed test notification, the trail', async () => {
    const received: { headers: Record<string, string>; body: string }[] = [];
    const target = await startTarget(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      received.push({ headers: req.headers as Record<string, string>, body });
      res.writeHead(received.length === 1 ? 200 : 500).end();
    });
    try {
      const created = await as(ann, {
        method: 'POST',
        url: '/api/notification-channels',
        payload: { name: 'Ops hook', type: 'webhook', config: { url: target.url } },
      });
      expect(created.statusCode, created.body).toBe(201);
      const channel = created.json();
      expect(channel).toMatchObject({
        name: 'Ops hook',
        type: 'webhook',
        config: { url: target.url },
        enabled: true,
        // Whose preferences govern it: the dashboard's preferences page lists the caller's own.
        createdBy: ann.id,
      });
      expect(channel.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      const again = await as(ann, { method: 'GET', url: `/api/notification-channels/${channel.id}` });
      expect(again.json()).not.toHaveProperty('secret');

      const sent = await as(ann, { method: 'POST', url: `/api/notification-channels/${channel.id}/test` });
      expect(sent.json()).toMatchObject({ status: 'delivered', responseStatus: 200, error: null });
      expect(received).toHaveLength(1);
      const body = new Webhook(channel.secret).verify(received[0]!.body, received[0]!.headers) as Record<
        string,
        unknown
      >;
      expect(body).toMatchObject({
        type: 'test.notification',
        data: { severity: 'info', title: 'Test notification from Crucible' },
      });

      const failing = await as(ann, { method: 'POST', url: `/api/notification-channels/${channel.id}/test` });
      expect(failing.json()).toMatchObject({
        status: 'retrying',
        responseStatus: 500,
        error: 'the receiver answered 500',
      });

      const page1 = await as(ann, {
        method: 'GET',
        url: `/api/notification-channels/${channel.id}/deliveries?limit=3`,
      });
      expect(
        page1.json().items.map((l: { attempt: number; status: string }) => [l.attempt, l.status]),
      ).toEqual([
        [1, 'retrying'],
        [0, 'pending'],
        [1, 'delivered'],
      ]);
      expect(page1.json().items[0]).toMatchObject({ eventType: 'test.notification', responseStatus: 500 });
      const page2 = await as(ann, {
        method: 'GET',
        url: `/api/notification-channels/${channel.id}/deliveries?limit=3&cursor=${page1.json().nextCursor}`,
      });
      expect(page2.json()).toMatchObject({ items: [{ attempt: 0, status: 'pending' }], nextCursor: null });
    } finally {
      await target.close();
    }
  });

  it('refuses a URL on a refused address at creation: the canary there sees no connection', async () => {
    let connections = 0;
    const canary = createServer((s) => {
      connections++;
      s.destroy();
    });
    canary.listen(0, '127.0.0.2');
    await once(canary, 'listening');
    const port = (canary.address() as AddressInfo).port;
    try {
      for (const [type, config] of [
        ['webhook', { url: `http://127.0.0.2:${port}/` }],
        ['slack', { webhookUrl: `http://localhost:${port}/services/x` }],
        ['discord', { webhookUrl: 'http://169.254.169.254/latest/meta-data/' }],
        ['teams', { webhookUrl: 'http://[fe80::1]/' }],
      ] as const) {
        const res = await as(ann, {
          method: 'POST',
          url: '/api/notification-channels',
          payload: { name: 'x', type, config },
        });
        expect([res.statusCode, res.json().code], `${type} ${JSON.stringify(config)}`).toEqual([
          400,
          'TARGET_REFUSED',
        ]);
      }
      expect(connections).toBe(0);
    } finally {
      await new Promise<void>((r) => canary.close(() => r()));
    }
  });

  it('checks each type’s config, masks credentials, and refuses a broken template', async () => {
    const bad = await as(ann, {
      method: 'POST',
      url: '/api/notification-channels',
      payload: { name: 'x', type: 'telegram', config: { botToken: 't' } },
    });
    expect(bad.statusCode).toBe(400);
    const slack = await as(ann, {
      method: 'POST',
      url: '/api/notification-channels',
      payload: {
        name: 'Slack',
        type: 'slack',
        config: { webhookUrl: 'https://hooks.slack.com/services/T0/B0/secretXYZ9' },
      },
    });
    expect(slack.statusCode, slack.body).toBe(201);
    expect(slack.json().config).toEqual({ webhookUrl: '…XYZ9' });
    expect(slack.json()).not.toHaveProperty('secret');
    const template = await as(ann, {
      method: 'PATCH',
      url: `/api/notification-channels/${slack.json().id}`,
      payload: { templates: { 'incident.opened': { title: '{{#x}} unclosed' } } },
    });
    expect([template.statusCode, template.json().code]).toEqual([400, 'INVALID_TEMPLATE']);
    const wrongConfig = await as(ann, {
      method: 'PATCH',
      url: `/api/notification-channels/${slack.json().id}`,
      payload: { config: { url: 'https://example.com/' } },
    });
    expect([wrongConfig.statusCode, wrongConfig.json().code]).toEqual([400, 'INVALID_BODY']);
    const email = await as(ann, {
      method: 'POST',
      url: '/api/notification-channels',
      payload: { name: 'Mail', type: 'email', config: { to: 'ops@example.com' } },
    });
    expect([email.statusCode, email.json().code]).toEqual([400, 'EMAIL_NOT_CONFIGURED']);
  });

  it('in-app: a test notification is listed, pushed at HIGH priority, read, and nobody else’s', async () => {
    const created = await as(ann, {
      method: 'POST',
      url: '/api/notification-channels',
      payload: { name: 'Bell', type: 'in-app', config: {} },
    });
    const channel = created.json();
    const strangers = await as(ann, {
      method: 'POST',
      url: '/api/notification-channels',
      payload: { name: 'Bell', type: 'in-app', config: { userIds: [bob.id] } },
    });
    expect([strangers.statusCode, strangers.json().code]).toEqual([400, 'INVALID_RECIPIENT']);

    const sent = await as(ann, { method: 'POST', url: `/api/notification-channels/${channel.id}/test` });
    expect(sent.json()).toMatchObject({ status: 'delivered' });
    const list = await as(ann, { method: 'GET', url: '/api/notifications?unread=true' });
    expect(list.json()).toMatchObject({ unread: 1, nextCursor: null });
    const [item] = list.json().items;
    expect(item).toMatchObject({
      title: 'Test notification from Crucible',
      severity: 'info',
      incidentId: null,
      readAt: null,
    });

    const history = await api.eventLog.recover(`user-notifications-${ann.id}`, 0);
    const pushed =
      (history as { messages?: { event: string; data: unknown; priority: number }[] }).messages ?? [];
    expect(pushed.map((m) => [m.event, m.priority, m.data])).toEqual([
      ['user:notification', Priority.HIGH, item],
    ]);

    // Bob sees none of Ann's: not her channels, not her notifications.
    expect(
      (await as(bob, { method: 'GET', url: `/api/notification-channels/${channel.id}` })).statusCode,
    ).toBe(404);
    expect(
      (await as(bob, { method: 'GET', url: `/api/notification-channels/${channel.id}/deliveries` }))
        .statusCode,
    ).toBe(404);
    expect(
      (await as(bob, { method: 'POST', url: `/api/notification-channels/${channel.id}/test` })).statusCode,
    ).toBe(404);
    expect((await as(bob, { method: 'GET', url: '/api/notification-channels' })).json()).toEqual({
      items: [],
    });
    expect((await as(bob, { method: 'GET', url: '/api/notifications' })).json()).toMatchObject({
      items: [],
      unread: 0,
    });
    expect((await as(bob, { method: 'POST', url: `/api/notifications/${item.id}/read` })).statusCode).toBe(
      404,
    );

    const read = await as(ann, { method: 'POST', url: `/api/notifications/${item.id}/read` });
    expect(read.json().readAt).not.toBeNull();
    await as(ann, { method: 'POST', url: `/api/notification-channels/${channel.id}/test` });
    await as(ann, { method: 'POST', url: `/api/notification-channels/${channel.id}/test` });
    const page = await as(ann, { method: 'GET', url: '/api/notifications?limit=2' });
    expect(page.json()).toMatchObject({ unread: 2 });
    const rest = await as(ann, {
      method: 'GET',
      url: `/api/notifications?limit=2&cursor=${page.json().nextCursor}`,
    });
    expect(rest.json().items.map((n: { id: string }) => n.id)).toEqual([item.id]);
    expect((await as(ann, { method: 'POST', url: '/api/notifications/read-all' })).json()).toEqual({
      read: 2,
      unread: 0,
    });

    const removed = await as(ann, { method: 'DELETE', url: `/api/notification-channels/${channel.id}` });
    expect(removed.statusCode).toBe(204);
    expect(
      (await as(ann, { method: 'GET', url: `/api/notification-channels/${channel.id}` })).statusCode,
    ).toBe(404);
  });

  it('a worker sends what is due in the outbox, with the same egress guard as tests', async () => {
    const received: string[] = [];
    const target = await startTarget((req, res) => {
      received.push(String(req.headers['webhook-id']));
      res.writeHead(204).end();
    });
    try {
      const created = await as(ann, {
        method: 'POST',
        url: '/api/notification-channels',
        payload: { name: 'Worker hook', type: 'webhook', config: { url: target.url } },
      });
      const workspaceId = created.json().workspaceId;
      const { deliveries } = await new NotificationDeliveriesRepository(api.db.kysely).enqueue({
        workspaceId,
        type: 'incident.opened',
        data: { severity: 'critical', title: 'Shop is down', message: 'two runs failed' },
        channelIds: [created.json().id],
        retryForMs: 60_000,
      });
      await api.startWorker({
        notifications: {
          settings: loadNotifySettings({}),
          egress: new Egress({ allowlist: parseAllowlist('127.0.0.1') }),
          pollMs: 50,
        },
      });
      const end = Date.now() + 10_000;
      while (received.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      expect(received).toEqual([webhookIdOf(deliveries[0]!.deliveryId)]);
    } finally {
      await target.close();
    }
  });
});
