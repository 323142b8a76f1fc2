import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBackplaneMode } from '@crucible/backplane/testing';
import { createTestDatabase } from '@crucible/db/testing';
import { startHookReceiver, until } from './alert-receivers.js';
import { REDIS_URL, SECRET, deletePrefix, startTarget } from './helpers.js';
import { freePort, startProcess, waitForReady } from './processes.js';
import type { AppProcess } from './processes.js';
import { WsClient } from './ws-client.js';

/** The api, worker and gateway processes share Redis here; embedded mode has no worker process to stop. */
const distributedOnly = describe.skipIf(testBackplaneMode() === 'embedded');

interface Hook {
  type: string;
  data: {
    title: string;
    systemAlert?: { id: string; kind: string; status: string; details: Record<string, unknown> };
  };
}

/**
 * System alerts (issue 24) through real processes: two api processes that both check (only one
 * alert and one resolution may come of it), a worker process stopped and started again, a gateway,
 * and local webhook receivers. Every threshold is a few seconds here (the variables' defaults are
 * minutes and an hour).
 */
distributedOnly('system alerts: two checking api processes, a worker, a gateway', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const prefix = `t-${randomUUID()}`;
  const procs: AppProcess[] = [];
  let env: Record<string, string>;
  let apiUrl: string;
  let wsUrl: string;
  let worker: AppProcess;
  let adminHook: Awaited<ReturnType<typeof startHookReceiver>>;
  let annHook: Awaited<ReturnType<typeof startHookReceiver>>;
  let goneHook: Awaited<ReturnType<typeof startHookReceiver>>;
  let annAnswer = 500;
  let site: Awaited<ReturnType<typeof startTarget>>;
  let admin: string;
  let ann: string;
  let adminSecret: string;
  let annSecret: string;

  async function call(method: string, path: string, token: string, body?: object) {
    const res = await fetch(`${apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  async function register(email: string): Promise<string> {
    const res = await fetch(`${apiUrl}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'a long enough password' }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { token: string }).token;
  }

  async function startWorker(): Promise<AppProcess> {
    const port = await freePort();
    const proc = startProcess('worker', 'apps/worker/src/main.ts', {
      ...env,
      WORKER_HEALTH_PORT: String(port),
    });
    procs.push(proc);
    await waitForReady(`http://127.0.0.1:${port}/health/ready`, proc, 120_000);
    return proc;
  }

  /** Where each receiver's and socket's record starts for the test running: what came before is another's. */
  const marks = new Map<object, number>();
  const mark = (...records: object[][]) => records.forEach((r) => marks.set(r, r.length));
  const since = <T>(record: T[]) => record.slice(marks.get(record) ?? 0);

  /** What a receiver got since the mark, verified with the channel's secret: system alerts only. */
  function alertsAt(hook: typeof adminHook, secret: string): Hook[] {
    const verifier = new Webhook(secret);
    return since(hook.received)
      .filter((r) => r.status === 200)
      .map((r) => verifier.verify(r.body, r.headers as Record<string, string>) as Hook)
      .filter((b) => b.type.startsWith('system.'));
  }
  /**
   * What a receiver was told of `kind` since the mark: every firing, and the ends of those alerts
   * only. An alert that fired before the mark (workers-silent while a slow machine started the
   * processes) is resolved before it, but its end can be delivered after it: that end is
   * another's (CI, 2026-12-06: two `resolved` for one `firing`).
   */
  const told = (hook: Hook[], kind: string, type: string) => {
    const ofKind = hook.filter((b) => b.data.systemAlert?.kind === kind);
    const fired = new Set(
      ofKind.filter((b) => b.type === 'system.alert.firing').map((b) => b.data.systemAlert!.id),
    );
    return ofKind.filter((b) => b.type === type && fired.has(b.data.systemAlert!.id));
  };

  /** `system:alert` frames a socket got (each message once: a redelivery is the same message). */
  const frames = (client: WsClient, kind: string, status: string) => {
    const ofKind = since(client.frames)
      .filter((f) => f.channel === 'system-alerts' && f.event === 'system:alert')
      .filter((f) => !f.redelivered)
      .map((f) => f.data as { kind: string; status: string; id: string })
      .filter((d) => d.kind === kind);
    // As `told`: the ends of alerts that fired since the mark.
    const fired = new Set(ofKind.filter((d) => d.status === 'firing').map((d) => d.id));
    return ofKind.filter((d) => d.status === status && fired.has(d.id));
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    adminHook = await startHookReceiver(() => 200);
    annHook = await startHookReceiver(() => annAnswer);
    goneHook = await startHookReceiver(() => 410);
    site = await startTarget();
    const [api1Port, api2Port, gatewayPort] = [await freePort(), await freePort(), await freePort()];
    env = {
      DATABASE_URL: database.url,
      REDIS_URL,
      JWT_SECRET: SECRET,
      CRUCIBLE_PREFIX: prefix,
      HOST: '127.0.0.1',
      TARGET_ALLOWLIST: '127.0.0.1',
      REGISTRATION: 'open',
      GATEWAY_PORT: String(gatewayPort),
      SYSTEM_ALERT_CHECK_SECONDS: '1',
      SYSTEM_ALERT_WORKER_SILENCE_SECONDS: '2',
      ALERT_QUEUE_AGE_SECONDS: '2',
      SYSTEM_ALERT_CHANNEL_FAILING_SECONDS: '3',
    };
    // One api first: it migrates the database the others start on.
    const api1 = startProcess('api-1', 'apps/api/src/main.ts', { ...env, PORT: String(api1Port) });
    procs.push(api1);
    apiUrl = `http://127.0.0.1:${api1Port}`;
    await waitForReady(`${apiUrl}/health/ready`, api1, 120_000);
    const api2 = startProcess('api-2', 'apps/api/src/main.ts', { ...env, PORT: String(api2Port) });
    const gateway = startProcess('gateway', 'apps/gateway/src/main.ts', env);
    procs.push(api2, gateway);
    wsUrl = `ws://127.0.0.1:${gatewayPort}/ws`;
    [worker] = await Promise.all([
      startWorker(),
      waitForReady(`http://127.0.0.1:${api2Port}/health/ready`, api2, 120_000),
      waitForReady(`http://127.0.0.1:${gatewayPort}/health/ready`, gateway, 120_000),
    ]);

    // The first account is the admin.
    admin = await register(`admin-${randomUUID()}@example.test`);
    ann = await register(`ann-${randomUUID()}@example.test`);
    const adminChannel = await call('POST', '/api/notification-channels', admin, {
      name: 'ops',
      type: 'webhook',
      config: { url: adminHook.url },
    });
    expect(adminChannel.status).toBe(201);
    adminSecret = adminChannel.body.secret;
    const annChannel = await call('POST', '/api/notification-channels', ann, {
      name: 'ann',
      type: 'webhook',
      config: { url: annHook.url },
    });
    expect(annChannel.status).toBe(201);
    annSecret = annChannel.body.secret;
  }, 300_000);

  afterAll(async () => {
    const codes = await Promise.all(procs.map((p) => p.stop('SIGTERM')));
    await Promise.all([adminHook?.close(), annHook?.close(), goneHook?.close(), site?.close()]);
    await database?.drop();
    const redis = new Redis(REDIS_URL);
    await deletePrefix(redis, prefix);
    redis.disconnect();
    expect(codes).toEqual(procs.map(() => 0));
  }, 60_000);

  it('no live worker and an old queue: told once each to the admin (WebSocket, webhook, in-app), resolved once when a worker is back; others see nothing', async () => {
    const adminWs = new WsClient(`${wsUrl}?token=${admin}`);
    const annWs = new WsClient(`${wsUrl}?token=${ann}`);
    await Promise.all([adminWs.opened(), annWs.opened()]);
    adminWs.send({ type: 'subscribe', channel: 'system-alerts' });
    annWs.send({ type: 'subscribe', channel: 'system-alerts' });
    await until(
      'the subscriptions',
      async () =>
        adminWs.frames.some((f) => f.type === 'subscribed' && f.channel === 'system-alerts') &&
        annWs.frames.some((f) => f.type === 'error' && f.channel === 'system-alerts'),
    );
    expect(annWs.frames.find((f) => f.channel === 'system-alerts')).toMatchObject({
      type: 'error',
      code: 'FORBIDDEN',
    });
    // Acknowledge what needs it, as a client does.
    adminWs.ws.on('message', (raw) => {
      const f = JSON.parse(raw.toString()) as { ackRequired?: boolean; id?: string };
      if (f.ackRequired) adminWs.send({ type: 'ack', id: f.id });
    });
    expect((await call('GET', '/api/admin/system-alerts', ann)).status).toBe(403);
    // Nothing is wrong while the worker runs (anything from the processes' start has ended).
    await until('a quiet platform', async () => {
      const list = await call('GET', '/api/admin/system-alerts?status=firing', admin);
      return list.body.items.length === 0;
    });

    const stoppedAt = Date.now();
    mark(adminHook.received, annHook.received, adminWs.frames);
    expect(await worker.stop('SIGTERM')).toBe(0);
    const fired = await until('workers-silent on the webhook', async () => {
      const got = told(alertsAt(adminHook, adminSecret), 'workers-silent', 'system.alert.firing');
      return got.length > 0 && got;
    });
    expect(fired[0]!.data).toMatchObject({
      title: 'No live worker for 2 s',
      systemAlert: { status: 'firing' },
    });
    await until(
      'workers-silent on the socket',
      async () => frames(adminWs, 'workers-silent', 'firing').length > 0,
    );

    // A test submitted now waits in the queue past ALERT_QUEUE_AGE_SECONDS.
    const submitted = await call('POST', '/api/test/run', ann, {
      testType: 'performance',
      url: site.url,
      config: { iterations: 2 },
    });
    expect(submitted.status).toBe(202);
    const backlog = await until('queue-backlog on the webhook', async () => {
      const got = told(alertsAt(adminHook, adminSecret), 'queue-backlog', 'system.alert.firing');
      return got.length > 0 && got;
    });
    expect(backlog[0]!.data.systemAlert!.details).toMatchObject({
      oldestTestId: submitted.body.testId,
      waiting: 1,
    });

    const current = await call('GET', '/api/admin/system-alerts?status=firing', admin);
    expect(current.status).toBe(200);
    expect(current.body.items.map((a: { kind: string }) => a.kind).sort()).toEqual([
      'queue-backlog',
      'workers-silent',
    ]);
    expect(
      Date.parse(current.body.items.find((a: { kind: string }) => a.kind === 'workers-silent').firedAt),
    ).toBeGreaterThan(stoppedAt);
    const inApp = await call('GET', '/api/notifications', admin);
    expect(inApp.body.items.map((n: { title: string }) => n.title)).toContain(
      'System alert: No live worker for 2 s',
    );
    expect((await call('GET', '/api/notifications', ann)).body.items).toEqual([]);

    worker = await startWorker();
    await until(
      'both resolved on the webhook',
      async () =>
        told(alertsAt(adminHook, adminSecret), 'workers-silent', 'system.alert.resolved').length > 0 &&
        told(alertsAt(adminHook, adminSecret), 'queue-backlog', 'system.alert.resolved').length > 0,
    );
    await until(
      'both resolved on the socket',
      async () =>
        frames(adminWs, 'workers-silent', 'resolved').length > 0 &&
        frames(adminWs, 'queue-backlog', 'resolved').length > 0,
    );
    // Several more checks by both api processes: still one of each.
    await new Promise((r) => setTimeout(r, 4_000));
    const hook = alertsAt(adminHook, adminSecret);
    for (const kind of ['workers-silent', 'queue-backlog']) {
      expect(told(hook, kind, 'system.alert.firing')).toHaveLength(1);
      expect(told(hook, kind, 'system.alert.resolved')).toHaveLength(1);
      expect(frames(adminWs, kind, 'firing')).toHaveLength(1);
      expect(frames(adminWs, kind, 'resolved')).toHaveLength(1);
    }
    expect(annWs.events('system-alerts')).toEqual([]);
    expect(alertsAt(annHook, annSecret)).toEqual([]);
    const past = await call('GET', '/api/admin/system-alerts?status=resolved', admin);
    expect(
      past.body.items
        .filter((a: { firedAt: string }) => Date.parse(a.firedAt) > stoppedAt)
        .map((a: { kind: string }) => a.kind)
        .sort(),
    ).toEqual(['queue-backlog', 'workers-silent']);
    adminWs.close();
    annWs.close();
  }, 180_000);

  it('a channel failing for the configured time: the admins are told, not its owner; resolved when it delivers again', async () => {
    mark(adminHook.received, annHook.received);
    const channels = await call('GET', '/api/notification-channels', ann);
    const channel = channels.body.items[0];
    const test = await call('POST', `/api/notification-channels/${channel.id}/test`, ann);
    expect(test.body).toMatchObject({ responseStatus: 500 });
    const fired = await until(
      'channel-failing on the webhook',
      async () => {
        const got = told(alertsAt(adminHook, adminSecret), 'channel-failing', 'system.alert.firing');
        return got.length > 0 && got;
      },
      60_000,
    );
    expect(fired[0]!.data.title).toBe('Notification channel "ann" has failed for over 3 s');
    expect(fired[0]!.data.systemAlert!.details).toMatchObject({
      channelId: channel.id,
      lastResponseStatus: 500,
    });

    annAnswer = 200;
    await until(
      'channel-failing resolved',
      async () =>
        told(alertsAt(adminHook, adminSecret), 'channel-failing', 'system.alert.resolved').length > 0,
      60_000,
    );
    await new Promise((r) => setTimeout(r, 3_000));
    const hook = alertsAt(adminHook, adminSecret);
    expect(told(hook, 'channel-failing', 'system.alert.firing')).toHaveLength(1);
    expect(told(hook, 'channel-failing', 'system.alert.resolved')).toHaveLength(1);
    // The owner is no admin: nothing of it reaches their channel.
    expect(alertsAt(annHook, annSecret)).toEqual([]);
  }, 120_000);

  it('a 410 disables the channel and tells its owner (in-app and their other channels); enabling it again resolves it', async () => {
    mark(adminHook.received, annHook.received);
    const gone = await call('POST', '/api/notification-channels', ann, {
      name: 'old endpoint',
      type: 'webhook',
      config: { url: goneHook.url },
    });
    const test = await call('POST', `/api/notification-channels/${gone.body.id}/test`, ann);
    expect(test.body).toMatchObject({ status: 'failed', responseStatus: 410 });
    expect((await call('GET', `/api/notification-channels/${gone.body.id}`, ann)).body.enabled).toBe(false);

    const fired = await until("channel-gone on the owner's other channel", async () => {
      const got = told(alertsAt(annHook, annSecret), 'channel-gone', 'system.alert.firing');
      return got.length > 0 && got;
    });
    expect(fired[0]!.data.title).toBe(
      'Notification channel "old endpoint" was disabled: its receiver answered 410 Gone',
    );
    const inApp = await call('GET', '/api/notifications', ann);
    expect(inApp.body.items.map((n: { title: string }) => n.title)).toContain(
      'System alert: Notification channel "old endpoint" was disabled: its receiver answered 410 Gone',
    );
    // The admins see it in their list; it is not sent to their channels.
    const list = await call('GET', '/api/admin/system-alerts?status=firing', admin);
    expect(list.body.items).toEqual([
      expect.objectContaining({
        kind: 'channel-gone',
        key: `channel-gone:${gone.body.id}`,
        status: 'firing',
      }),
    ]);
    expect(told(alertsAt(adminHook, adminSecret), 'channel-gone', 'system.alert.firing')).toEqual([]);

    expect(
      (await call('PATCH', `/api/notification-channels/${gone.body.id}`, ann, { enabled: true })).status,
    ).toBe(200);
    await until(
      'channel-gone resolved',
      async () => told(alertsAt(annHook, annSecret), 'channel-gone', 'system.alert.resolved').length > 0,
    );
    await new Promise((r) => setTimeout(r, 3_000));
    expect(told(alertsAt(annHook, annSecret), 'channel-gone', 'system.alert.firing')).toHaveLength(1);
    expect(told(alertsAt(annHook, annSecret), 'channel-gone', 'system.alert.resolved')).toHaveLength(1);
  }, 120_000);
});
