import { CrucibleSocket } from '@crucible/client';
import type { ChannelMessage, ChannelPosition, WebSocketConstructor } from '@crucible/client';
import { Priority } from '@crucible/contracts';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { createTest, h, publish, startGateway, tokenOf, useHarness } from './harness.js';
import type { GatewayHandle } from './harness.js';

useHarness();

const sockets: CrucibleSocket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});

function open(
  gateway: GatewayHandle,
  options: Partial<ConstructorParameters<typeof CrucibleSocket>[0]> = {},
) {
  const socket = new CrucibleSocket({
    url: gateway.url,
    credential: () => ({ token: tokenOf(h.owner) }),
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    initialReconnectMs: 50,
    ...options,
  });
  sockets.push(socket);
  const opened: string[] = [];
  socket.on('open', ({ connectionId }) => opened.push(connectionId));
  return { socket, opened };
}

/** Holds reconnects back (their credential) until opened, so messages are surely missed meanwhile. */
function gate() {
  let opened: Promise<void> = Promise.resolve();
  let release = () => {};
  return {
    close() {
      opened = new Promise((resolve) => (release = resolve));
    },
    open: () => release(),
    credential: async () => {
      await opened;
      return { token: tokenOf(h.owner) };
    },
  };
}

/** Cuts every connection of the gateway, as a network failure would (no close handshake). */
function cut(gateway: GatewayHandle): void {
  for (const client of gateway.app.websocketServer.clients) client.terminate();
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('@crucible/client against the gateway', () => {
  it('reconnects after a cut and resumes: 50 missed messages, none lost, none twice, in order', async () => {
    const gateway = await startGateway();
    const channel = `test-progress-${await createTest(h.owner)}`;
    const offline = gate();
    const { socket, opened } = open(gateway, { credential: offline.credential });
    const received: number[] = [];
    const subscription = socket.subscribe<{ n: number }>(channel, (m) => received.push(m.data.n), {
      since: { offset: 0 },
    });
    for (const n of range(1, 5)) await publish(channel, n);
    await expect.poll(() => received).toEqual(range(1, 5));

    offline.close();
    cut(gateway);
    for (const n of range(6, 55)) await publish(channel, n);
    offline.open();
    await expect.poll(() => received, { timeout: 10_000 }).toEqual(range(1, 55));
    expect(opened).toHaveLength(2);
    expect(subscription.position).toEqual({ epoch: expect.any(String), offset: 55 });
    await publish(channel, 56);
    await expect.poll(() => received.at(-1)).toBe(56);
    expect(received).toEqual(range(1, 56));
  });

  it('asks for a fresh single-use ticket on every connection', async () => {
    const gateway = await startGateway();
    let issued = 0;
    const { opened } = open(gateway, {
      credential: async () => {
        issued++;
        const { ticket } = await h.tickets.issue({ userId: h.owner.id, email: h.owner.email, role: 'user' });
        return { ticket };
      },
    });
    await expect.poll(() => opened.length).toBe(1);
    cut(gateway);
    await expect.poll(() => opened.length, { timeout: 10_000 }).toBe(2);
    expect(issued).toBe(2);
  });

  it('acknowledges the HIGH messages it handled within ackDelayMs in one frame, and none twice', async () => {
    const gateway = await startGateway();
    const channel = `test-progress-${await createTest(h.owner)}`;
    const sent: string[] = [];
    // The real `ws` socket, with what the client writes noted.
    class Recording extends WebSocket {
      override send(data: string): void {
        sent.push(data);
        super.send(data);
      }
    }
    const { socket, opened } = open(gateway, {
      WebSocket: Recording as unknown as WebSocketConstructor,
      ackDelayMs: 60_000,
    });
    const received: ChannelMessage<{ n: number }>[] = [];
    socket.subscribe<{ n: number }>(channel, (m) => received.push(m), { since: { offset: 0 } });
    await expect.poll(() => opened.length).toBe(1);
    for (const n of [1, 2, 3]) await publish(channel, n, { priority: Priority.HIGH });
    await expect.poll(() => received.length).toBe(3);
    const acks = () => sent.map((f) => JSON.parse(f) as { type: string }).filter((f) => f.type === 'ack');
    expect(acks()).toEqual([]);
    // Closing sends what waits, before the close.
    socket.close();
    expect(acks()).toEqual([{ type: 'ack', ids: received.map((m) => m.id) }]);

    // Resumed after them: unacknowledged, they would come back first, redelivered.
    const again = open(gateway);
    const resumed: ChannelMessage<{ n: number }>[] = [];
    again.socket.subscribe<{ n: number }>(channel, (m) => resumed.push(m), {
      since: { epoch: received[2]!.epoch, offset: received[2]!.offset },
    });
    await expect.poll(() => again.opened.length).toBe(1);
    await publish(channel, 4);
    await expect.poll(() => resumed.length).toBe(1);
    expect(resumed.map((m) => [m.data.n, m.redelivered ?? false])).toEqual([[4, false]]);
  });

  it('acknowledges HIGH messages by itself, so a resume does not bring them back', async () => {
    const gateway = await startGateway();
    const channel = `test-progress-${await createTest(h.owner)}`;
    for (const autoAck of [true, false]) {
      const { socket, opened } = open(gateway, { autoAck });
      const received: ChannelMessage<{ n: number }>[] = [];
      socket.subscribe<{ n: number }>(channel, (m) => received.push(m));
      await expect.poll(() => opened.length).toBe(1);
      await expect
        .poll(
          async () =>
            (
              await gateway.app.inject({
                url: '/gateway/channels',
                headers: { authorization: `Bearer ${tokenOf(h.admin)}` },
              })
            ).json().channels[channel],
        )
        .toBe(1);
      const high = await publish(channel, autoAck ? 1 : 2, { priority: Priority.HIGH });
      await expect.poll(() => received.length).toBe(1);
      cut(gateway);
      await expect.poll(() => opened.length, { timeout: 10_000 }).toBe(2);
      await publish(channel, 100);
      await expect.poll(() => received.at(-1)?.data.n).toBe(100);
      expect(received.map((m) => ({ id: m.id, redelivered: m.redelivered ?? false }))).toEqual(
        autoAck
          ? [
              { id: high.id, redelivered: false },
              { id: expect.any(String), redelivered: false },
            ]
          : [
              { id: high.id, redelivered: false },
              { id: high.id, redelivered: true },
              { id: expect.any(String), redelivered: false },
            ],
      );
      socket.close();
    }
  });

  it('tells the application to reload when the missed history was trimmed', async () => {
    const shortLog = h.eventLogWith({ maxLen: 10 });
    const gateway = await startGateway({ eventLog: shortLog });
    const channel = `test-progress-${await createTest(h.owner)}`;
    const offline = gate();
    const { socket, opened } = open(gateway, { credential: offline.credential });
    const resets: ChannelPosition[] = [];
    const received: number[] = [];
    socket.subscribe<{ n: number }>(channel, (m) => received.push(m.data.n), {
      since: { offset: 0 },
      onReset: (position) => resets.push(position),
    });
    await publish(channel, 1, { log: shortLog });
    await expect.poll(() => received).toEqual([1]);
    offline.close();
    cut(gateway);
    let epoch = '';
    for (const n of range(2, 300)) epoch = (await publish(channel, n, { log: shortLog })).epoch;
    offline.open();
    await expect.poll(() => resets, { timeout: 10_000 }).toEqual([{ epoch, offset: 300 }]);
    expect(opened).toHaveLength(2);
    await publish(channel, 301, { log: shortLog });
    await expect.poll(() => received).toEqual([1, 301]);
  });
});
