import { randomUUID } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNotifySettings } from '@crucible/notify';
import { auth, register, startApi, startTarget } from './helpers.js';
import type { Api } from './helpers.js';
import { startAlertingWorker, startHookReceiver, startSmtp, subjectOf, until } from './alert-receivers.js';

type User = Awaited<ReturnType<typeof register>>;

/**
 * Alerts stay quiet when a target flaps, and incidents opening together go out as one notification
 * per channel (issue 24).
 */
describe('alerts: flapping and grouping', () => {
  let api: Api;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let hook: Awaited<ReturnType<typeof startHookReceiver>>;
  const as = (user: User, options: InjectOptions) =>
    api.app.inject({ ...options, headers: { ...options.headers, ...auth(user.token) } });
  const call = async (user: User, method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) => {
    const res = await as(user, { method, url, ...(payload ? { payload } : {}) });
    expect(res.statusCode, res.body).toBeLessThan(300);
    return res.json();
  };

  beforeAll(async () => {
    smtp = await startSmtp();
    hook = await startHookReceiver(() => 200);
    // Generous: ten monitors' openings on a busy machine still fall within one window.
    const settings = loadNotifySettings({ SMTP_URL: smtp.url, ALERT_GROUP_WAIT_MS: '8000' });
    api = await startApi({ monitorMinIntervalSeconds: 1, notify: settings });
    await register(api, `root-${randomUUID()}@example.test`);
    await startAlertingWorker(api, settings);
  });
  afterAll(async () => {
    await api?.close();
    await smtp?.close();
    await hook?.close();
  });

  /** A user with a webhook, an email and an in-app channel, and a rule on all its monitors. */
  async function workspace(failAfter: number) {
    const user = await register(api, `u-${randomUUID()}@example.test`);
    const webhook = await call(user, 'POST', '/api/notification-channels', {
      name: 'hook',
      type: 'webhook',
      config: { url: `${hook.url}?user=${user.id}` },
    });
    const email = await call(user, 'POST', '/api/notification-channels', {
      name: 'mail',
      type: 'email',
      config: { to: `${user.id}@example.test` },
    });
    const inApp = await call(user, 'POST', '/api/notification-channels', {
      name: 'bell',
      type: 'in-app',
      config: {},
    });
    await call(user, 'POST', '/api/alert-rules', {
      name: 'Down',
      target: { allMonitors: true },
      condition: { kind: 'down' },
      failAfter,
      recoverAfter: 2,
      severity: 'critical',
      channelIds: [webhook.id, email.id, inApp.id],
    });
    return { user, webhook };
  }
  const monitor = (url: string, name: string) => ({
    name,
    test: { testType: 'api', url, config: { steps: [{ name: 'home', assert: { status: 200 } }] } },
    schedule: { everySeconds: 1 },
  });
  const hooksOf = (user: User) => hook.received.filter((r) => r.url.endsWith(`user=${user.id}`));

  it('a target that alternates pass and fail for 30 runs, with failAfter 3, opens nothing and tells nobody', async () => {
    // Each run makes one request: odd ones fail, even ones pass.
    const site = await startTarget((_req, res, n) => {
      res.writeHead(n % 2 === 1 ? 500 : 200).end('{}');
    });
    try {
      const { user } = await workspace(3);
      const m = await call(user, 'POST', '/api/monitors', monitor(site.url, 'Flappy'));
      const runs = await until(
        '30 finished runs',
        async () => {
          const page = await call(user, 'GET', `/api/monitors/${m.id}/runs?limit=200`);
          const done = (page.items as { state: string | null }[]).filter((r) => r.state !== null);
          return done.length >= 30 && done;
        },
        55_000,
      );
      await call(user, 'PATCH', `/api/monitors/${m.id}`, { enabled: false });
      const states = runs.map((r) => r.state);
      // The target did flap: downs and ups, never three downs in a row.
      expect(states.filter((s) => s === 'down').length).toBeGreaterThanOrEqual(10);
      expect(states.filter((s) => s === 'up').length).toBeGreaterThanOrEqual(10);
      expect(states.join(',')).not.toMatch(/down,down,down/);

      expect((await call(user, 'GET', '/api/incidents')).items).toEqual([]);
      const events = await api.db.kysely
        .selectFrom('notification_events as e')
        .innerJoin('notification_channels as c', 'c.workspace_id', 'e.workspace_id')
        .select('e.id')
        .where('c.created_by', '=', user.id)
        .execute();
      expect(events).toEqual([]);
      expect(hooksOf(user)).toEqual([]);
      expect((await call(user, 'GET', '/api/notifications')).items).toEqual([]);
    } finally {
      await site.close();
    }
  }, 70_000);

  it('ten monitors failing together: one grouped notification per channel, listing all ten', async () => {
    let failing = false;
    const site = await startTarget((_req, res) => {
      res.writeHead(failing ? 503 : 200).end('{}');
    });
    try {
      const { user, webhook } = await workspace(2);
      const monitors = [];
      for (let i = 1; i <= 10; i++)
        monitors.push(await call(user, 'POST', '/api/monitors', monitor(site.url, `Shop ${i}`)));
      failing = true;
      await until(
        'ten open incidents',
        async () => (await call(user, 'GET', '/api/incidents?status=open')).items.length === 10,
      );
      for (const m of monitors) await call(user, 'PATCH', `/api/monitors/${m.id}`, { enabled: false });

      const opened = await until(
        'the grouped webhook',
        async () => hooksOf(user).length > 0 && hooksOf(user),
      );
      await until('the grouped email', async () =>
        smtp.mails.some((mail) => mail.to[0] === `${user.id}@example.test`),
      );
      const bell = await until(
        'the in-app notification',
        async () => (await call(user, 'GET', '/api/notifications')).items[0],
      );
      // The window has closed and been sent: nothing else is held, unsent, for these incidents.
      const held = await api.db.kysely
        .selectFrom('notification_deliveries')
        .select('id')
        .where('channel_id', '=', webhook.id)
        .where('attempts', '=', 0)
        .execute();
      expect(held).toEqual([]);

      expect(opened).toHaveLength(1);
      const body = new Webhook(webhook.secret).verify(
        opened[0]!.body,
        opened[0]!.headers as Record<string, string>,
      ) as {
        type: string;
        data: { title: string; incidents: { monitor: { name: string } }[] };
      };
      expect(body.type).toBe('incident.opened');
      expect(body.data.incidents.map((i) => i.monitor.name).sort()).toEqual(
        monitors.map((m) => m.name).sort(),
      );
      expect(body.data.title).toMatch(/^10 incidents opened: /);
      const mails = smtp.mails.filter((mail) => mail.to[0] === `${user.id}@example.test`);
      expect(mails).toHaveLength(1);
      expect(subjectOf(mails[0]!.raw)).toContain('10 incidents opened');
      const notes = await call(user, 'GET', '/api/notifications');
      expect(notes.items).toHaveLength(1);
      expect(bell.title).toMatch(/^Incident opened: 10 incidents opened: /);

      // Each incident's timeline names the one notification per channel that told of it.
      const list = (await call(user, 'GET', '/api/incidents')).items as { id: string }[];
      const detail = await call(user, 'GET', `/api/incidents/${list[0]!.id}`);
      expect(detail.notifications.map((n: { type: string }) => n.type)).toEqual([
        'incident.opened',
        'incident.opened',
        'incident.opened',
      ]);
    } finally {
      await site.close();
    }
  }, 60_000);
});
