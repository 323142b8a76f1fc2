import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { BACKPLANE_MODES } from '@crucible/backplane/testing';
import { LOST_ATTEMPT_ERROR } from '@crucible/db';
import { Egress, parseAllowlist } from '@crucible/egress';
import { Dispatcher } from '../src/dispatcher.js';
import { generateWebhookSecret, webhookIdOf } from '../src/signing.js';
import { startDatabase, startReceiver, testSettings, until } from './helpers.js';
import type { TestDatabase } from './helpers.js';

const loopback = new Egress({ allowlist: parseAllowlist('127.0.0.1') });
const fast = { baseMs: 50, maxMs: 200 };
const data = { severity: 'critical' as const, title: 'shop.example is down', message: 'two runs failed' };

describe.each(BACKPLANE_MODES)('dispatcher (%s)', (mode) => {
  let t: TestDatabase;
  const open: { close(): Promise<void> }[] = [];
  beforeEach(async () => {
    t = await startDatabase(mode);
  });
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
    await t.close();
  });

  const dispatcher = (options: Partial<ConstructorParameters<typeof Dispatcher>[0]> = {}) => {
    const d = new Dispatcher({
      db: t.db.kysely,
      egress: loopback,
      settings: testSettings(),
      pollMs: 20,
      backoff: fast,
      ...options,
    });
    open.push(d);
    return d;
  };
  const enqueue = (channelIds: string[], retryForMs = 60_000) =>
    t.deliveries.enqueue({
      workspaceId: t.workspaceId,
      type: 'incident.opened',
      data,
      channelIds,
      retryForMs,
    });

  it('retries a receiver that fails, with one webhook-id, each attempt validly signed, and keeps the trail', async () => {
    const receiver = await startReceiver((_r, n, res) => {
      res.statusCode = n <= 2 ? 503 : 200;
      res.end(n <= 2 ? 'busy' : 'ok');
    });
    open.push(receiver);
    const secret = generateWebhookSecret();
    const channel = await t.channel({ type: 'webhook', config: { url: receiver.url }, secret });
    const { deliveries } = await enqueue([channel.id]);
    dispatcher().start();
    await until(async () => (await t.deliveries.status(deliveries[0]!.deliveryId))?.status === 'delivered');

    expect(receiver.received).toHaveLength(3);
    const wh = new Webhook(secret);
    for (const r of receiver.received) {
      const body = wh.verify(r.body, r.headers as Record<string, string>) as { type: string; data: unknown };
      expect(body).toMatchObject({ type: 'incident.opened', data });
      expect(r.headers['webhook-id']).toBe(webhookIdOf(deliveries[0]!.deliveryId));
    }
    const trail = await t.deliveries.trail(channel.id, 50);
    expect(trail.map((l) => [l.attempt, l.status, l.responseStatus])).toEqual([
      [3, 'delivered', 200],
      [2, 'retrying', 503],
      [1, 'retrying', 503],
      [0, 'pending', null],
    ]);
    expect(trail[1]!.error).toBe('the receiver answered 503: busy');
  });

  it('a delivery whose dispatcher died mid-send is sent again with the same webhook-id after its lease', async () => {
    const receiver = await startReceiver();
    open.push(receiver);
    const channel = await t.channel({
      type: 'webhook',
      config: { url: receiver.url },
      secret: generateWebhookSecret(),
    });
    const { deliveries } = await enqueue([channel.id]);
    const id = deliveries[0]!.deliveryId;
    // A dispatcher claims it and is killed before recording anything.
    const [lost] = await t.deliveries.claim({ limit: 10, leaseMs: 300 });
    expect(lost?.deliveryId).toBe(id);
    dispatcher().start();
    await until(async () => (await t.deliveries.status(id))?.status === 'delivered');
    expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual([webhookIdOf(id)]);
    // The dead one's late outcome changes nothing.
    expect(
      await t.deliveries.record(id, 1, {
        kind: 'failed',
        responseStatus: null,
        durationMs: 1,
        error: 'late',
      }),
    ).toBeNull();
    const trail = await t.deliveries.trail(channel.id, 50);
    expect(trail.map((l) => [l.attempt, l.status, l.error])).toEqual([
      [2, 'delivered', null],
      [1, 'retrying', LOST_ATTEMPT_ERROR],
      [0, 'pending', null],
    ]);
  });

  it('two dispatchers at once send each delivery once', async () => {
    const receiver = await startReceiver();
    open.push(receiver);
    const channel = await t.channel({
      type: 'webhook',
      config: { url: receiver.url },
      secret: generateWebhookSecret(),
    });
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await enqueue([channel.id])).deliveries[0]!.deliveryId);
    dispatcher({ batchSize: 4 }).start();
    dispatcher({ batchSize: 4 }).start();
    await until(() => receiver.received.length >= 30);
    await until(async () => {
      const s = await Promise.all(ids.map((id) => t.deliveries.status(id)));
      return s.every((x) => x?.status === 'delivered');
    });
    const sent = receiver.received.map((r) => r.headers['webhook-id']);
    expect(sent).toHaveLength(30);
    expect(new Set(sent)).toEqual(new Set(ids.map(webhookIdOf)));
  });

  it('honours Retry-After', async () => {
    const receiver = await startReceiver((_r, n, res) => {
      res.statusCode = n === 1 ? 429 : 200;
      if (n === 1) res.setHeader('retry-after', '2');
      res.end();
    });
    open.push(receiver);
    const channel = await t.channel({
      type: 'webhook',
      config: { url: receiver.url },
      secret: generateWebhookSecret(),
    });
    const { deliveries } = await enqueue([channel.id]);
    await dispatcher().runOnce();
    const row = await t.db.kysely
      .selectFrom('notification_deliveries')
      .select(['status', 'next_attempt_at'])
      .where('id', '=', deliveries[0]!.deliveryId)
      .executeTakeFirstOrThrow();
    const [line] = await t.deliveries.trail(channel.id, 1);
    expect(row.status).toBe('retrying');
    // Asked for 2 s; the backoff alone would have waited at most 50 ms.
    expect(row.next_attempt_at.getTime() - line!.at.getTime()).toBeGreaterThanOrEqual(1_900);
  });

  it('gives up when the retry time is over', async () => {
    const receiver = await startReceiver((_r, _n, res) => {
      res.statusCode = 500;
      res.end();
    });
    open.push(receiver);
    const channel = await t.channel({
      type: 'webhook',
      config: { url: receiver.url },
      secret: generateWebhookSecret(),
    });
    const { deliveries } = await enqueue([channel.id], 400);
    dispatcher().start();
    await until(async () => (await t.deliveries.status(deliveries[0]!.deliveryId))?.status === 'failed');
    const [last] = await t.deliveries.trail(channel.id, 1);
    expect(last).toMatchObject({ status: 'failed', responseStatus: 500 });
    expect(last!.error).toMatch(/no retry time left/);
  });

  it('410 Gone disables the channel; later deliveries to it fail unsent', async () => {
    const receiver = await startReceiver((_r, _n, res) => {
      res.statusCode = 410;
      res.end();
    });
    open.push(receiver);
    const channel = await t.channel({
      type: 'webhook',
      config: { url: receiver.url },
      secret: generateWebhookSecret(),
    });
    const first = await enqueue([channel.id]);
    const d = dispatcher();
    await d.runOnce();
    expect((await t.deliveries.status(first.deliveries[0]!.deliveryId))?.status).toBe('failed');
    expect(await t.channels.find(t.workspaceId, channel.id)).toMatchObject({ enabled: false });
    const second = await enqueue([channel.id]);
    await d.runOnce();
    expect((await t.deliveries.status(second.deliveries[0]!.deliveryId))?.status).toBe('failed');
    expect(receiver.received).toHaveLength(1);
  });

  it("sends one channel's deliveries one at a time in the order written: an acknowledgement never overtakes its opening", async () => {
    let inFlight = 0;
    let most = 0;
    const answered: string[] = [];
    const receiver = await startReceiver((r, n, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      // The opening meets a busy receiver once; each answer takes a while, so overlaps would show.
      setTimeout(() => {
        inFlight--;
        res.statusCode = n === 1 ? 503 : 200;
        if (n > 1) answered.push((JSON.parse(r.body) as { type: string }).type);
        res.end();
      }, 150);
    });
    open.push(receiver);
    const channel = await t.channel({
      type: 'webhook',
      config: { url: receiver.url },
      secret: generateWebhookSecret(),
    });
    const ids: string[] = [];
    for (const type of ['incident.opened', 'incident.acknowledged', 'incident.resolved'] as const) {
      const { deliveries } = await t.deliveries.enqueue({
        workspaceId: t.workspaceId,
        type,
        data,
        channelIds: [channel.id],
        retryForMs: 60_000,
      });
      ids.push(deliveries[0]!.deliveryId);
    }
    dispatcher().start();
    dispatcher().start();
    await until(async () => {
      const s = await Promise.all(ids.map((id) => t.deliveries.status(id)));
      return s.every((x) => x?.status === 'delivered');
    });
    expect(answered).toEqual(['incident.opened', 'incident.acknowledged', 'incident.resolved']);
    expect(most).toBe(1);
  });

  it('a channel that answers 410 gets one request: the deliveries behind it fail unsent', async () => {
    const receiver = await startReceiver((_r, _n, res) => {
      res.statusCode = 410;
      res.end();
    });
    open.push(receiver);
    const channel = await t.channel({
      type: 'webhook',
      config: { url: receiver.url },
      secret: generateWebhookSecret(),
    });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await enqueue([channel.id])).deliveries[0]!.deliveryId);
    dispatcher().start();
    await until(async () => {
      const s = await Promise.all(ids.map((id) => t.deliveries.status(id)));
      return s.every((x) => x?.status === 'failed');
    });
    expect(receiver.received).toHaveLength(1);
    const trail = await t.deliveries.trail(channel.id, 50);
    expect(trail.filter((l) => l.error === 'the channel is disabled')).toHaveLength(2);
  });

  it('a held delivery holds back later ones of its own incident only', async () => {
    const receiver = await startReceiver();
    open.push(receiver);
    const channel = await t.channel({
      type: 'webhook',
      config: { url: receiver.url },
      secret: generateWebhookSecret(),
    });
    const incident = async (key: string) =>
      (
        await t.db.kysely
          .insertInto('incidents')
          .values({
            workspace_id: t.workspaceId,
            key,
            rule_name: 'r',
            monitor_name: key,
            severity: 'critical',
            status: 'open',
            opened_by_runs: [],
            opened_through: new Date(),
          })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id;
    const [first, second] = [await incident('first'), await incident('second')];
    const tell = async (
      type: 'incident.opened' | 'incident.acknowledged',
      incidentId: string,
      holdMs = 0,
    ) => {
      const { eventId, deliveries } = await t.deliveries.enqueue({
        workspaceId: t.workspaceId,
        type,
        data,
        channelIds: [channel.id],
        retryForMs: 60_000,
        holdMs,
      });
      await t.db.kysely
        .insertInto('incident_notifications')
        .values({ incident_id: incidentId, event_id: eventId })
        .execute();
      return deliveries[0]!.deliveryId;
    };
    // The first incident's opening waits for its group; its acknowledgement must wait behind it,
    // while another incident's news goes at once.
    const held = await tell('incident.opened', first, 60_000);
    const ack = await tell('incident.acknowledged', first);
    const other = await tell('incident.opened', second);
    const d = dispatcher();
    await d.runOnce();
    await d.runOnce();
    expect((await t.deliveries.status(other))?.status).toBe('delivered');
    expect((await t.deliveries.status(held))?.status).toBe('pending');
    expect((await t.deliveries.status(ack))?.status).toBe('pending');
    // The group's time up, the opening goes, then its acknowledgement.
    await t.db.kysely
      .updateTable('notification_deliveries')
      .set({ next_attempt_at: new Date(Date.now() - 1000) })
      .where('id', '=', held)
      .execute();
    d.start();
    await until(async () => (await t.deliveries.status(ack))?.status === 'delivered');
    expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual(
      [other, held, ack].map(webhookIdOf),
    );
  });

  it('refuses a refused address at send: the canary listening there sees no connection', async () => {
    let connections = 0;
    const canary = createServer((s) => {
      connections++;
      s.destroy();
    });
    canary.listen(0, '127.0.0.1');
    await once(canary, 'listening');
    open.push({ close: () => new Promise<void>((r) => canary.close(() => r())) });
    const port = (canary.address() as AddressInfo).port;
    const urls = [
      `http://127.0.0.1:${port}/hook`,
      `http://localhost:${port}/`,
      'http://169.254.169.254/latest/meta-data/',
    ];
    const channels = [];
    for (const url of urls) {
      channels.push(await t.channel({ type: 'webhook', config: { url }, secret: generateWebhookSecret() }));
    }
    const { deliveries } = await enqueue(channels.map((c) => c.id));
    // The guard of a deployment whose allow-list does not hold loopback.
    await dispatcher({ egress: new Egress() }).runOnce();
    for (const { deliveryId } of deliveries)
      expect((await t.deliveries.status(deliveryId))?.status).toBe('failed');
    const [line] = await t.deliveries.trail(channels[0]!.id, 1);
    expect(line!.error).toMatch(/refused/);
    expect(connections).toBe(0);
  });
});
