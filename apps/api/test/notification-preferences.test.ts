import { randomUUID } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNotifySettings } from '@crucible/notify';
import { auth, register, startApi, startTarget } from './helpers.js';
import type { Api } from './helpers.js';
import { startAlertingWorker, startHookReceiver, until } from './alert-receivers.js';

type User = Awaited<ReturnType<typeof register>>;
type Receiver = Awaited<ReturnType<typeof startHookReceiver>>;

/** `HH:MM` of the instant in the time zone. */
const clockIn = (at: Date, timeZone: string) =>
  new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(
    at,
  );

/**
 * Notification preferences (issue 24) through the real path: monitors failing on a local target,
 * rules opening incidents in the worker, the outbox's dispatcher sending to local receivers. Quiet
 * hours are a real, short window (their end the next whole minute, in Asia/Kolkata, UTC+5:30), so
 * this test waits up to two minutes for them to end.
 */
describe('notification preferences', () => {
  let api: Api;
  let ann: User;
  let bob: User;
  let site: Awaited<ReturnType<typeof startTarget>>;
  let failing = true;
  const receivers: Receiver[] = [];
  const as = (user: User, options: InjectOptions) =>
    api.app.inject({ ...options, headers: { ...options.headers, ...auth(user.token) } });
  const call = async (
    user: User,
    method: 'POST' | 'PUT' | 'GET',
    url: string,
    payload?: object,
    status = 200,
  ) => {
    const res = await as(user, { method, url, ...(payload && { payload }) });
    expect(res.statusCode, res.body).toBe(status);
    return res.json();
  };

  beforeAll(async () => {
    const settings = loadNotifySettings({ ALERT_GROUP_WAIT_MS: '0' });
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
    for (const r of receivers) await r.close();
  });

  /** A webhook channel of the user to a new local receiver, and a failing monitor with a rule to it. */
  async function watched(user: User, name: string) {
    const receiver = await startHookReceiver(() => 200);
    receivers.push(receiver);
    const channel = await call(
      user,
      'POST',
      '/api/notification-channels',
      { name, type: 'webhook', config: { url: receiver.url } },
      201,
    );
    return { receiver, channelId: channel.id as string };
  }
  async function fail(user: User, name: string, severity: string, channelId: string) {
    const monitor = await call(
      user,
      'POST',
      '/api/monitors',
      {
        name,
        test: {
          testType: 'api',
          url: site.url,
          config: { steps: [{ name: 'home', assert: { status: 200 } }] },
        },
        schedule: { everySeconds: 1 },
      },
      201,
    );
    await call(
      user,
      'POST',
      '/api/alert-rules',
      {
        name: `${name} down`,
        target: { monitorId: monitor.id },
        condition: { kind: 'down' },
        failAfter: 1,
        severity,
        channelIds: [channelId],
      },
      201,
    );
    return monitor.id as string;
  }
  /** The channel's first delivery with its due time and the trail's first line. */
  const firstDelivery = (channelId: string) =>
    api.db.kysely
      .selectFrom('notification_deliveries as d')
      .innerJoin('notification_attempts as a', (j) =>
        j.onRef('a.delivery_id', '=', 'd.id').on('a.attempt', '=', 0),
      )
      .select(['d.status', 'd.next_attempt_at', 'd.created_at', 'a.status as trailStatus', 'a.error'])
      .where('d.channel_id', '=', channelId)
      .orderBy('d.created_at')
      .executeTakeFirst();

  it('PUT and GET: validated, kept per user, only for channels the caller created', async () => {
    expect(await call(bob, 'GET', '/api/notification-preferences')).toEqual({
      quietHours: null,
      minSeverity: {},
      mutedUntil: null,
    });
    const bobs = await watched(bob, 'bob hook');
    const prefs = {
      quietHours: { start: '22:00', end: '07:00', timezone: 'Europe/Paris' },
      minSeverity: { [bobs.channelId]: 'warning' },
      mutedUntil: '2030-01-01T00:00:00.000Z',
    };
    expect(await call(bob, 'PUT', '/api/notification-preferences', prefs)).toEqual(prefs);
    expect(await call(bob, 'GET', '/api/notification-preferences')).toEqual(prefs);
    expect(await call(ann, 'GET', '/api/notification-preferences')).toMatchObject({ quietHours: null });

    const refused = async (body: object, status: number, code?: string) => {
      const res = await as(ann, { method: 'PUT', url: '/api/notification-preferences', payload: body });
      expect(res.statusCode, res.body).toBe(status);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      if (code) expect(res.json().code).toBe(code);
    };
    const none = { quietHours: null, minSeverity: {}, mutedUntil: null };
    await refused(
      { ...none, quietHours: { start: '22:00', end: '07:00', timezone: 'Mars/Olympus' } },
      400,
      'INVALID_TIMEZONE',
    );
    await refused(
      { ...none, quietHours: { start: '07:00', end: '07:00', timezone: 'UTC' } },
      400,
      'INVALID_QUIET_HOURS',
    );
    await refused({ ...none, quietHours: { start: '24:00', end: '07:00', timezone: 'UTC' } }, 400);
    await refused({ ...none, minSeverity: { [bobs.channelId]: 'warning' } }, 404, 'NOT_FOUND');
    await refused({ ...none, minSeverity: { [randomUUID()]: 'loud' } }, 400);
    await call(bob, 'PUT', '/api/notification-preferences', none);
  });

  it('quiet hours hold non-critical until they end, critical goes at once, below the minimum and muted are recorded suppressed', async () => {
    // The hours end at a whole minute 60–120 s away: time for the incidents to open on a busy machine.
    const now = Date.now();
    const quietEnd = new Date(Math.floor((now + 120_000) / 60_000) * 60_000);
    const zone = 'Asia/Kolkata';
    const warning = await watched(ann, 'warning hook');
    const critical = await watched(ann, 'critical hook');
    const info = await watched(ann, 'info hook');
    await call(ann, 'PUT', '/api/notification-preferences', {
      quietHours: {
        start: clockIn(new Date(now - 60_000), zone),
        end: clockIn(quietEnd, zone),
        timezone: zone,
      },
      minSeverity: { [info.channelId]: 'warning' },
      mutedUntil: null,
    });
    const muted = await watched(bob, 'muted hook');
    const mutedUntil = new Date(now + 3_600_000);
    await call(bob, 'PUT', '/api/notification-preferences', {
      quietHours: null,
      minSeverity: {},
      mutedUntil: mutedUntil.toISOString(),
    });
    const monitors = [
      [ann, await fail(ann, 'Billing', 'warning', warning.channelId)],
      [ann, await fail(ann, 'Login', 'critical', critical.channelId)],
      [ann, await fail(ann, 'Docs', 'info', info.channelId)],
      [bob, await fail(bob, 'Blog', 'warning', muted.channelId)],
    ] as const;

    const [held, atOnce, below, silenced] = await until(
      'a delivery on each channel',
      async () => {
        const rows = await Promise.all(
          [warning, critical, info, muted].map((c) => firstDelivery(c.channelId)),
        );
        type Row = NonNullable<(typeof rows)[number]>;
        return rows.every(Boolean) ? (rows as [Row, Row, Row, Row]) : undefined;
      },
      50_000,
    );
    for (const [user, id] of monitors)
      await as(user, { method: 'PATCH', url: `/api/monitors/${id}`, payload: { enabled: false } });
    failing = false;

    // Critical: due when written, nothing held, sent.
    expect(atOnce.error).toBeNull();
    expect(atOnce.next_attempt_at.getTime()).toBeLessThanOrEqual(atOnce.created_at.getTime() + 1_000);
    await until('the critical incident.opened', async () => critical.receiver.received.length > 0);
    expect(JSON.parse(critical.receiver.received[0]!.body).type).toBe('incident.opened');

    // Warning: held in the outbox until the quiet hours end, said so in the trail, then sent.
    expect(held).toMatchObject({ status: 'pending', trailStatus: 'pending' });
    expect(held.next_attempt_at.toISOString()).toBe(quietEnd.toISOString());
    expect(held.error).toBe(`held for quiet hours until ${quietEnd.toISOString().replace('.000Z', 'Z')}`);
    if (Date.now() < quietEnd.getTime() - 1_000) expect(warning.receiver.received).toHaveLength(0);
    await until('the held incident.opened', async () => warning.receiver.received.length > 0, 150_000);
    expect(Date.now()).toBeGreaterThanOrEqual(quietEnd.getTime());
    expect(JSON.parse(warning.receiver.received[0]!.body).type).toBe('incident.opened');
    // The receiver records the request before the dispatcher writes `delivered`: wait for the row.
    await until('the held delivery marked delivered', async () =>
      (await firstDelivery(warning.channelId))?.status === 'delivered' ? true : undefined,
    );

    // Info below the channel's minimum, and everything non-critical of a muted user: recorded, never sent.
    expect(below).toMatchObject({
      status: 'suppressed',
      trailStatus: 'suppressed',
      error: "suppressed by the preferences of the channel's creator: below the minimum severity warning",
    });
    expect(silenced).toMatchObject({
      status: 'suppressed',
      trailStatus: 'suppressed',
      error: `suppressed by the preferences of the channel's creator: muted until ${mutedUntil.toISOString().replace(/\.\d{3}Z$/, 'Z')}`,
    });
    const trail = await call(bob, 'GET', `/api/notification-channels/${muted.channelId}/deliveries`);
    expect(trail.items[0]).toMatchObject({ eventType: 'incident.opened', attempt: 0, status: 'suppressed' });
    expect(info.receiver.received).toHaveLength(0);
    expect(muted.receiver.received).toHaveLength(0);
  }, 240_000);
});

/** Grouping (a group wait) beside quiet hours: a critical opening must not join a group held for them. */
describe('notification preferences with grouped openings', () => {
  let api: Api;
  let carl: User;
  let site: Awaited<ReturnType<typeof startTarget>>;
  let hook: Receiver;
  const as = (options: InjectOptions) =>
    api.app.inject({ ...options, headers: { ...options.headers, ...auth(carl.token) } });
  const post = async (url: string, payload: object, status = 201) => {
    const res = await as({ method: url.endsWith('preferences') ? 'PUT' : 'POST', url, payload });
    expect(res.statusCode, res.body).toBe(status);
    return res.json();
  };

  beforeAll(async () => {
    const settings = loadNotifySettings({ ALERT_GROUP_WAIT_MS: '500' });
    api = await startApi({ monitorMinIntervalSeconds: 1, notify: settings });
    await register(api, `root-${randomUUID()}@example.test`);
    carl = await register(api, `carl-${randomUUID()}@example.test`);
    site = await startTarget((_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"ok":false}');
    });
    hook = await startHookReceiver(() => 200);
    await startAlertingWorker(api, settings);
  });
  afterAll(async () => {
    await api?.close();
    await site?.close();
    await hook?.close();
  });

  it('a critical incident opening while a warning one is held for quiet hours goes out at once, on its own', async () => {
    const now = Date.now();
    const quietEnd = new Date(Math.floor((now + 7_200_000) / 60_000) * 60_000);
    await post(
      '/api/notification-preferences',
      {
        quietHours: {
          start: clockIn(new Date(now - 60_000), 'UTC'),
          end: clockIn(quietEnd, 'UTC'),
          timezone: 'UTC',
        },
        minSeverity: {},
        mutedUntil: null,
      },
      200,
    );
    const channel = await post('/api/notification-channels', {
      name: 'hook',
      type: 'webhook',
      config: { url: hook.url },
    });
    const failingMonitor = async (name: string, severity: string) => {
      const monitor = await post('/api/monitors', {
        name,
        test: {
          testType: 'api',
          url: site.url,
          config: { steps: [{ name: 'home', assert: { status: 200 } }] },
        },
        schedule: { everySeconds: 1 },
      });
      await post('/api/alert-rules', {
        name: `${name} down`,
        target: { monitorId: monitor.id },
        condition: { kind: 'down' },
        failAfter: 1,
        severity,
        channelIds: [channel.id],
      });
      return monitor.id as string;
    };
    const billing = await failingMonitor('Billing', 'warning');
    const heldGroup = await until('the warning opening held for quiet hours', async () =>
      api.db.kysely
        .selectFrom('notification_deliveries')
        .select(['id', 'next_attempt_at'])
        .where('channel_id', '=', channel.id)
        .executeTakeFirst(),
    );
    expect(heldGroup.next_attempt_at.toISOString()).toBe(quietEnd.toISOString());
    const login = await failingMonitor('Login', 'critical');

    await until('the critical incident.opened', async () => hook.received.length > 0);
    const told = JSON.parse(hook.received[0]!.body);
    expect(told.type).toBe('incident.opened');
    expect(told.data.monitor.name).toBe('Login');
    expect(told.data.incidents.map((i: { monitor: { name: string } }) => i.monitor.name)).toEqual(['Login']);
    const still = await api.db.kysely
      .selectFrom('notification_deliveries')
      .select(['status', 'next_attempt_at'])
      .where('id', '=', heldGroup.id)
      .executeTakeFirstOrThrow();
    expect(still).toEqual({ status: 'pending', next_attempt_at: quietEnd });
    for (const id of [billing, login])
      await as({ method: 'PATCH', url: `/api/monitors/${id}`, payload: { enabled: false } });
  }, 90_000);
});
