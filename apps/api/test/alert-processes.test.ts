import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBackplaneMode } from '@crucible/backplane/testing';
import { LOST_ATTEMPT_ERROR } from '@crucible/db';
import { webhookIdOf } from '@crucible/notify';
import { REDIS_URL, SECRET, auth, register, spawnWorkerOf, startApi, startTarget } from './helpers.js';
import type { Api } from './helpers.js';
import { until } from './alert-receivers.js';
import { freePort, startProcess, waitForReady } from './processes.js';
import type { AppProcess } from './processes.js';
import { WsClient } from './ws-client.js';

type Phase = 'hold' | 'answer';

/**
 * A webhook receiver that can hold requests open (never answering: the request stays in flight),
 * go down (its port closed: connections refused) and come back on the same port answering 200.
 */
async function startToggledReceiver() {
  const received: { headers: IncomingHttpHeaders; body: string; answered: number | null }[] = [];
  const held: ServerResponse[] = [];
  let phase: Phase = 'hold';
  let server: Server | undefined;
  let port = 0;
  const listen = async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const answered = phase === 'answer' ? 200 : null;
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString(), answered });
        if (answered === null) held.push(res);
        else res.writeHead(answered).end();
      });
    });
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  };
  await listen();
  return {
    get url() {
      return `http://127.0.0.1:${port}/hook`;
    },
    received,
    /** Down: the held requests' sockets cut, the port closed. */
    async down() {
      const s = server!;
      server = undefined;
      for (const res of held.splice(0)) res.destroy();
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    /** Up again on the same port, answering 200. */
    async up() {
      phase = 'answer';
      await listen();
    },
    async close() {
      if (server) await this.down();
    },
  };
}

/**
 * Notifications with real processes (issue 24). The delivery guarantee: a worker SIGKILLed while
 * its dispatcher's request is in flight, the receiver down, a new worker started, the receiver up →
 * delivered, once per webhook-id, and the trail has every attempt. In-app: `user:notification`
 * through the gateway process. Embedded mode is one process: the dispatcher's lost-claim path is
 * tested in packages/notify.
 */
const distributedOnly = describe.skipIf(testBackplaneMode() === 'embedded');

distributedOnly('notifications through worker and gateway processes (distributed)', () => {
  let api: Api;
  let token: string;
  let userId: string;
  let site: Awaited<ReturnType<typeof startTarget>>;
  let receiver: Awaited<ReturnType<typeof startToggledReceiver>>;
  const procs: AppProcess[] = [];

  beforeAll(async () => {
    api = await startApi({ monitorMinIntervalSeconds: 1 });
    ({ token, id: userId } = await register(api, `ops-${randomUUID()}@example.test`));
    site = await startTarget((_req, res) => {
      res.writeHead(503).end();
    });
    receiver = await startToggledReceiver();
  });

  afterAll(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL')));
    await api?.close();
    await site?.close();
    await receiver?.close();
  });

  /** The WebSocket gateway as its own process, on the api's deployment; its `/ws` URL. */
  async function spawnGateway(): Promise<string> {
    const port = await freePort();
    const proc = startProcess('gateway', 'apps/gateway/src/main.ts', {
      DATABASE_URL: api.databaseUrl,
      REDIS_URL,
      JWT_SECRET: SECRET,
      CRUCIBLE_PREFIX: api.prefix,
      GATEWAY_PORT: String(port),
      HOST: '127.0.0.1',
    });
    procs.push(proc);
    await waitForReady(`http://127.0.0.1:${port}/health/ready`, proc, 120_000);
    return `ws://127.0.0.1:${port}/ws`;
  }

  async function spawnWorker(): Promise<AppProcess> {
    const proc = await spawnWorkerOf(api, {
      WORKER_CONCURRENCY: '5',
      WORKER_LOCK_DURATION_MS: '3000',
      ALERT_GROUP_WAIT_MS: '0',
      // A claim holds a delivery twice this (6 s): a lost send is retried that soon, not after 30 s.
      NOTIFY_SEND_TIMEOUT_MS: '3000',
    });
    procs.push(proc);
    return proc;
  }

  const call = async (method: string, url: string, payload?: object) => {
    const res = await api.app.inject({ method, url, headers: auth(token), ...(payload && { payload }) });
    return res.json();
  };

  it('a send in flight when its worker is SIGKILLed is delivered after a restart, once per webhook-id, every attempt in the trail', async () => {
    const channel = await call('POST', '/api/notification-channels', {
      name: 'hook',
      type: 'webhook',
      config: { url: receiver.url },
    });
    const monitor = await call('POST', '/api/monitors', {
      name: 'Checkout',
      test: {
        testType: 'api',
        url: site.url,
        config: { steps: [{ name: 'home', assert: { status: 200 } }] },
      },
      schedule: { everySeconds: 1 },
    });
    await call('POST', '/api/alert-rules', {
      name: 'down',
      target: { monitorId: monitor.id },
      condition: { kind: 'down' },
      failAfter: 1,
      severity: 'critical',
      channelIds: [channel.id],
    });
    const first = await spawnWorker();

    // The worker's dispatcher sends incident.opened; the receiver holds the request open.
    await until('the delivery in flight', async () => receiver.received.length === 1, 120_000);
    expect(first.child.exitCode).toBeNull();
    await first.stop('SIGKILL');
    await receiver.down();
    expect((await call('PATCH', `/api/monitors/${monitor.id}`, { enabled: false })).enabled).toBe(false);

    const trail = async () =>
      (await call('GET', `/api/notification-channels/${channel.id}/deliveries?limit=100`)).items as {
        deliveryId: string;
        attempt: number;
        status: string;
        responseStatus: number | null;
        error: string | null;
      }[];
    // Claimed, nothing recorded: the killed worker left the delivery to its lease.
    expect((await trail()).map((l) => [l.attempt, l.status])).toEqual([[0, 'pending']]);

    // A new worker: once the lease lapses it claims the delivery again and finds the receiver down.
    await spawnWorker();
    await until('an attempt refused while the receiver is down', async () =>
      (await trail()).some((l) => l.attempt >= 2 && l.status === 'retrying'),
    );
    await receiver.up();
    await until('delivered', async () => (await trail()).some((l) => l.status === 'delivered'), 60_000);

    const lines = (await trail()).reverse();
    const deliveryId = lines[0]!.deliveryId;
    expect(new Set(lines.map((l) => l.deliveryId))).toEqual(new Set([deliveryId]));
    // Every attempt, in order: written, lost with the worker, refused while down, delivered.
    expect(lines.map((l) => l.attempt)).toEqual(lines.map((_, i) => i));
    expect(lines[0]).toMatchObject({ status: 'pending' });
    expect(lines[1]).toMatchObject({ status: 'retrying', error: LOST_ATTEMPT_ERROR, responseStatus: null });
    const down = lines.slice(2, -1);
    expect(down.length).toBeGreaterThanOrEqual(1);
    for (const line of down) {
      expect(line).toMatchObject({ status: 'retrying', responseStatus: null });
      expect(line.error).toMatch(/ECONNREFUSED|connect/i);
    }
    expect(lines.at(-1)).toMatchObject({ status: 'delivered', responseStatus: 200 });

    // The receiver saw the held request and the delivered one: one webhook-id, the same signed body.
    const verifier = new Webhook(channel.secret);
    expect(receiver.received.map((r) => r.answered)).toEqual([null, 200]);
    expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual([
      webhookIdOf(deliveryId),
      webhookIdOf(deliveryId),
    ]);
    const bodies = receiver.received.map(
      (r) => verifier.verify(r.body, r.headers as Record<string, string>) as { type: string },
    );
    expect(bodies.map((b) => b.type)).toEqual(['incident.opened', 'incident.opened']);
    expect(bodies[1]).toEqual(bodies[0]);
    const [incident] = (await call('GET', '/api/incidents')).items;
    expect((await call('GET', `/api/incidents/${incident.id}`)).notifications).toMatchObject([
      { type: 'incident.opened', deliveries: [{ deliveryId, status: 'delivered' }] },
    ]);
  }, 300_000);

  it('an incident opening on an in-app channel is pushed live through the gateway, at HIGH priority: redelivered on resume until acknowledged', async () => {
    const wsUrl = await spawnGateway();
    const channelName = `user-notifications-${userId}`;
    const connect = async () => {
      const client = new WsClient(`${wsUrl}?token=${token}`);
      await client.opened();
      return client;
    };
    const subscribed = async (client: WsClient, since: object) => {
      client.send({ type: 'subscribe', channel: channelName, since });
      await until('subscribed', async () =>
        client.frames.find((f) => f.type === 'subscribed' && f.channel === channelName),
      );
    };
    const first = await connect();
    await subscribed(first, { offset: 0 });

    const bell = await call('POST', '/api/notification-channels', {
      name: 'bell',
      type: 'in-app',
      config: {},
    });
    const monitor = await call('POST', '/api/monitors', {
      name: 'Search',
      test: {
        testType: 'api',
        url: site.url,
        config: { steps: [{ name: 'home', assert: { status: 200 } }] },
      },
      schedule: { everySeconds: 1 },
    });
    await call('POST', '/api/alert-rules', {
      name: 'Search down',
      target: { monitorId: monitor.id },
      condition: { kind: 'down' },
      failAfter: 1,
      severity: 'warning',
      channelIds: [bell.id],
    });
    if (!procs.some((p) => p.name === 'worker' && p.child.exitCode === null && p.child.signalCode === null))
      await spawnWorker();

    const [pushed] = await until(
      'user:notification on the socket',
      async () => {
        const events = first.events(channelName).filter((f) => f.event === 'user:notification');
        return events.length > 0 && events;
      },
      120_000,
    );
    await call('PATCH', `/api/monitors/${monitor.id}`, { enabled: false });
    const incident = (await call('GET', `/api/incidents?monitorId=${monitor.id}`)).items[0];
    const rest = (await call('GET', '/api/notifications')).items.find(
      (n: { incidentId: string }) => n.incidentId === incident.id,
    );
    // The REST item, live: HIGH priority, so the gateway asks for an acknowledgement.
    expect(pushed).toMatchObject({
      event: 'user:notification',
      channel: channelName,
      userId,
      ackRequired: true,
      data: {
        id: rest.id,
        title: 'Incident opened: Search: Search down',
        severity: 'warning',
        incidentId: incident.id,
        readAt: null,
      },
    });
    expect(pushed!.data).toEqual(rest);

    // Not acknowledged: a resume after it sends it again first, marked redelivered.
    const last = { epoch: pushed!.epoch, offset: pushed!.offset };
    first.close();
    const second = await connect();
    await subscribed(second, last);
    const again = await until('the redelivery', async () =>
      second.events(channelName).find((f) => f.id === pushed!.id),
    );
    expect(again).toMatchObject({ redelivered: true, ackRequired: true, data: pushed!.data });

    // Acknowledged (by any socket of the user): the next resume has nothing to redeliver.
    second.send({ type: 'ack', id: pushed!.id });
    second.send({ type: 'ping' });
    await until('the pong after the ack', async () => second.frames.some((f) => f.type === 'pong'));
    second.close();
    const third = await connect();
    await subscribed(third, last);
    third.send({ type: 'ping' });
    await until('the pong', async () => third.frames.some((f) => f.type === 'pong'));
    expect(third.events(channelName)).toEqual([]);
    third.close();
  }, 300_000);
});
