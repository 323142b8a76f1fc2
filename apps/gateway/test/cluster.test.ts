import { RedisConnectionRegistry } from '@crucible/backplane';
import { Priority } from '@crucible/contracts';
import { Registry } from 'prom-client';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import {
  connect,
  createTest,
  distributedOnly,
  h,
  metricValue,
  publish,
  startGateway,
  tokenOf,
  tokens,
  useHarness,
} from './harness.js';
import { TestClient } from './ws-client.js';

useHarness();

distributedOnly('many gateways (distributed mode only: they share Redis)', () => {
  it('delivers the same test events to a client on each of two gateways', async () => {
    const [a, b] = [await startGateway(), await startGateway()];
    const channel = `test-progress-${await createTest(h.owner)}`;
    const onA = await connect(a, h.owner);
    const onB = await connect(b, h.admin);
    for (const client of [onA, onB]) {
      client.send({ type: 'subscribe', channel });
      expect(await client.next()).toMatchObject({ type: 'subscribed', channel });
    }
    const published = [];
    for (let n = 1; n <= 5; n++)
      published.push(await publish(channel, n, { priority: n === 5 ? Priority.HIGH : Priority.NORMAL }));
    const ids = published.map((m) => m.id);
    expect((await onA.nextN(5)).map((m) => m.id)).toEqual(ids);
    expect((await onB.nextN(5)).map((m) => m.id)).toEqual(ids);
  });

  it('refuses the 11th connection of a user across two gateways, and frees a place when one closes', async () => {
    const [a, b] = [await startGateway(), await startGateway()];
    const open = [];
    for (let i = 0; i < 10; i++) open.push(await connect(i % 2 === 0 ? a : b, h.owner));
    for (const gateway of [a, b]) {
      const refusal = await TestClient.refusal(`${gateway.url}?token=${tokenOf(h.owner)}`);
      expect(refusal.status).toBe(429);
      expect(refusal.body).toMatchObject({
        code: 'LIMIT',
        detail: 'too many open connections for this user',
      });
    }
    // Other users are not affected.
    await connect(a, h.stranger);
    await open[0]!.close();
    await expect
      .poll(async () => {
        const attempt = await TestClient.connect(`${b.url}?token=${tokenOf(h.owner)}`).catch(() => undefined);
        await attempt?.close();
        return attempt !== undefined;
      })
      .toBe(true);
  });

  it("frees a dead gateway's places once its leases run out, while a live gateway keeps renewing its own", async () => {
    const dead = new RedisConnectionRegistry(h.redis, { prefix: h.prefix, leaseMs: 600 });
    const live = new RedisConnectionRegistry(h.redis, { prefix: h.prefix, leaseMs: 600 });
    try {
      expect(await dead.acquire('u1', 'c-dead', 1)).toBe(1);
      expect(await live.acquire('u2', 'c-live', 1)).toBe(1);
      // The dead one stops renewing without releasing, as a crashed process would.
      await dead.close();
      expect(await live.acquire('u1', 'c-new', 1)).toBeNull();
      await expect.poll(() => live.acquire('u1', 'c-new', 1), { timeout: 10_000 }).toBe(1);
      const score = async () => Number(await h.redis.zscore(`${h.prefix}:conns:u2`, 'c-live'));
      const first = await score();
      await expect.poll(score, { timeout: 10_000 }).toBeGreaterThan(first);
      expect(await live.acquire('u2', 'c-other', 1)).toBeNull();
    } finally {
      await live.close();
      await dead.close();
    }
  });
});

distributedOnly('presence across gateways (distributed mode only: they share Redis)', () => {
  it('publishes user:online on the first connection across gateways and user:offline after the last', async () => {
    const [a, b] = [await startGateway(), await startGateway()];
    const watcher = await connect(a, h.admin);
    watcher.send({ type: 'subscribe', channel: 'user-activity' });
    expect(await watcher.next()).toMatchObject({ type: 'subscribed', channel: 'user-activity' });

    const first = await connect(b, h.owner);
    const second = await connect(a, h.owner);
    expect(await watcher.next()).toMatchObject({
      event: 'user:online',
      userId: h.owner.id,
      data: { userId: h.owner.id },
    });
    await first.close();
    await second.close();
    expect(await watcher.next()).toMatchObject({ event: 'user:offline', userId: h.owner.id });
    expect(await watcher.drain()).toEqual([]);
  });

  it("has user:offline of a gateway's users published by the time its clean shutdown completes", async () => {
    const gateway = await startGateway();
    await connect(gateway, h.owner);
    await connect(gateway, h.stranger);
    await gateway.close();
    // Nothing is left in flight to write after the close (or after a test's cleanup of its keys).
    const history = await h.eventLog.recover('user-activity', 0);
    expect(history.messages.map((m) => [m.event, m.userId]).sort()).toEqual(
      [
        ['user:offline', h.owner.id],
        ['user:offline', h.stranger.id],
        ['user:online', h.owner.id],
        ['user:online', h.stranger.id],
      ].sort(),
    );
  });
});

describe('shutdown with an upgrade in flight', () => {
  it('takes no place and publishes nothing after its close resolves', async () => {
    const { createAuthenticator } = await import('@crucible/runtime');
    const real = createAuthenticator({ apiKeys: h.apiKeys, sessions: h.sessions, tokens });
    let entered!: () => void;
    const authenticating = new Promise<void>((resolve) => (entered = resolve));
    let letThrough!: () => void;
    const gate = new Promise<void>((resolve) => (letThrough = resolve));
    const gateway = await startGateway({
      authenticate: async (credential) => {
        entered();
        await gate;
        return real(credential);
      },
    });
    const socket = new WebSocket(`${gateway.url}?token=${tokenOf(h.owner)}`);
    const outcome = new Promise<string>((resolve) => {
      socket.once('unexpected-response', (_req, res) => resolve(`refused ${res.statusCode}`));
      socket.once('close', (code) => resolve(`closed ${code}`));
      socket.once('error', () => resolve('error'));
    });
    await authenticating;
    const closed = gateway.close();
    letThrough();
    await closed;
    // Refused (503) or opened and closed with the rest (1001): either way, nothing outlives close.
    expect(await outcome).toMatch(/^(refused 503|closed 1001|error)$/);
    expect(await h.holdsNoPlace(h.owner.id)).toBe(true);
    const presence = await h.eventLog.recover('user-activity', 0);
    expect(presence.messages.map((m) => m.event).sort()).toEqual(
      presence.messages.length === 0 ? [] : ['user:offline', 'user:online'],
    );
    socket.terminate();
  });
});

distributedOnly('bus connection loss (distributed mode only: the in-process bus has no connection)', () => {
  it('recovers the messages published while the Redis subscriber was reconnecting', async () => {
    const metrics = new Registry();
    const gateway = await startGateway({ metrics });
    const channel = `test-progress-${await createTest(h.owner)}`;
    const client = await connect(gateway, h.owner);
    client.send({ type: 'subscribe', channel });
    expect(await client.next()).toMatchObject({ type: 'subscribed', channel });
    await publish(channel, 1);
    expect((await client.next()).data.n).toBe(1);

    const lost = new Promise<void>((resolve) => gateway.subscriber.once('close', () => resolve()));
    await h.redis.client('KILL', 'ID', String(gateway.subscriberClientId));
    await lost;
    // ioredis waits before reconnecting: these reach Redis while nobody of this gateway listens.
    for (let n = 2; n <= 6; n++) await publish(channel, n);

    const received = await client.nextN(5);
    expect(received.map((m) => m.offset)).toEqual([2, 3, 4, 5, 6]);
    await publish(channel, 7);
    expect((await client.next()).offset).toBe(7);
    expect(await client.drain()).toEqual([]);
    const text = await metrics.metrics();
    expect(
      metricValue(text, 'crucible_gateway_recoveries_total', '{kind="gap",outcome="recovered"}'),
    ).toBeGreaterThanOrEqual(1);
  });
});

describe('lingering bus subscriptions', () => {
  const numsub = (channel: string) => h.busSubscribers(channel);

  it('keeps a channel subscribed on the bus after its last reader leaves, for the next one', async () => {
    const gateway = await startGateway({ unsubscribeDelayMs: 60_000 });
    const channel = 'system-maintenance';
    const first = await connect(gateway, h.owner);
    first.send({ type: 'subscribe', channel });
    expect(await first.next()).toMatchObject({ type: 'subscribed' });
    first.send({ type: 'unsubscribe', channel });
    expect(await first.next()).toEqual({ type: 'unsubscribed', channel });
    expect(await numsub(channel)).toBe(1);

    const next = await connect(gateway, h.stranger);
    next.send({ type: 'subscribe', channel });
    expect(await next.next()).toMatchObject({ type: 'subscribed' });
    const alert = await publish(channel, 1, { userId: null, event: 'system:maintenance:start' });
    expect(await next.next()).toEqual(alert);
    expect(await numsub(channel)).toBe(1);
    // Shutdown does not wait for the delay.
    await gateway.close();
    expect(await numsub(channel)).toBe(0);
  });

  it('releases it once the delay has passed with no reader', async () => {
    const gateway = await startGateway({ unsubscribeDelayMs: 50 });
    const client = await connect(gateway, h.owner);
    client.send({ type: 'subscribe', channel: 'system-maintenance' });
    expect(await client.next()).toMatchObject({ type: 'subscribed' });
    expect(await numsub('system-maintenance')).toBe(1);
    client.send({ type: 'unsubscribe', channel: 'system-maintenance' });
    expect(await client.next()).toMatchObject({ type: 'unsubscribed' });
    await expect.poll(() => numsub('system-maintenance'), { timeout: 10_000 }).toBe(0);
  });
});
