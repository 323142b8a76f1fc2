// @vitest-environment node
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { Envelope } from '@crucible/contracts/envelope';
import { connectLive } from './live';
import type { Live, LiveState } from './live';

const channel = 'test-progress-t1';
const envelope = (offset: number, epoch = 'e1'): Envelope => ({
  id: `m${offset}`,
  event: 'test:progress',
  channel,
  data: { progress: offset * 10 },
  priority: 3,
  timestamp: 0,
  userId: 'u1',
  offset,
  epoch,
});

/** A gateway stand-in that records what each connection asked for. */
async function gateway() {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const sockets: WebSocket[] = [];
  const frames: Record<string, unknown>[][] = [];
  const urls: string[] = [];
  server.on('connection', (socket, request) => {
    const index = sockets.push(socket) - 1;
    frames[index] = [];
    urls[index] = request.url ?? '';
    socket.on('message', (raw) => {
      const frame = JSON.parse(raw.toString());
      if (frame.type !== 'ping' && frame.type !== 'ack') frames[index]!.push(frame);
    });
    socket.send(
      JSON.stringify({
        id: `hello-${index}`,
        event: 'connection:established',
        channel: '',
        data: { connectionId: `c${index}`, userId: 'u1', heartbeatMs: 30_000 },
        priority: 1,
        timestamp: 0,
        userId: 'u1',
        offset: 0,
        epoch: '',
      }),
    );
  });
  const { port } = server.address() as { port: number };
  return { server, sockets, frames, urls, url: `ws://127.0.0.1:${port}/ws` };
}

let tickets = 0;
/** A fresh single-use ticket for each connection attempt, as the dashboard asks the API for. */
const ticket = () => ({ ticket: `t${++tickets}` });

let live: Live | undefined;
let server: WebSocketServer | undefined;
afterEach(async () => {
  live?.close();
  for (const client of server?.clients ?? []) client.terminate();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

describe('the live connection', () => {
  it('delivers each message once, in order, across a reconnect that resumes from the last offset', async () => {
    const gw = await gateway();
    server = gw.server;
    const states: LiveState[] = [];
    const received: number[] = [];
    live = connectLive(gw.url, { credential: ticket, maxReconnectMs: 40, WebSocket: WebSocket as never });
    live.onState((s) => states.push(s));
    live.subscribe(channel, { message: (m) => received.push(m.offset) });

    await expect.poll(() => gw.frames[0]?.length).toBe(1);
    expect(gw.frames[0]![0]).toEqual({ type: 'subscribe', channel, since: { offset: 0 } });
    const first = gw.sockets[0]!;
    first.send(JSON.stringify({ type: 'subscribed', channel, epoch: 'e1', offset: 0, recovered: true }));
    first.send(JSON.stringify(envelope(1)));
    first.send(JSON.stringify({ type: 'batch', messages: [envelope(2), envelope(2)] }));
    await expect.poll(() => received).toEqual([1, 2]);

    // The connection drops: the client says so, comes back and asks for what follows offset 2.
    first.terminate();
    await expect.poll(() => gw.frames[1]?.length ?? 0).toBe(1);
    expect(gw.frames[1]![0]).toEqual({ type: 'subscribe', channel, since: { epoch: 'e1', offset: 2 } });
    const second = gw.sockets[1]!;
    second.send(JSON.stringify({ type: 'subscribed', channel, epoch: 'e1', offset: 3, recovered: true }));
    second.send(JSON.stringify({ type: 'batch', messages: [envelope(2), envelope(3)] }));
    await expect.poll(() => received).toEqual([1, 2, 3]);
    expect(states).toEqual(['open', 'reconnecting', 'open']);
    // Each connection carried a ticket of its own, never a token.
    expect(gw.urls.map((u) => new URL(u, 'http://x').searchParams.get('ticket'))).toEqual([
      expect.stringMatching(/^t\d+$/),
      expect.stringMatching(/^t\d+$/),
    ]);
    expect(new Set(gw.urls).size).toBe(2);
  });

  it('asks for a reload when the gateway cannot replay, and reports channel errors', async () => {
    const gw = await gateway();
    server = gw.server;
    let resets = 0;
    const errors: string[] = [];
    const received: number[] = [];
    live = connectLive(gw.url, { credential: ticket, WebSocket: WebSocket as never });
    live.subscribe(channel, {
      message: (m) => received.push(m.offset),
      reset: () => resets++,
      error: (code, detail) => errors.push(`${code}: ${detail}`),
    });
    await expect.poll(() => gw.frames[0]?.length).toBe(1);
    const socket = gw.sockets[0]!;
    socket.send(JSON.stringify({ type: 'subscribed', channel, epoch: 'e2', offset: 7, recovered: false }));
    socket.send(JSON.stringify(envelope(7, 'e2')));
    socket.send(JSON.stringify(envelope(8, 'e2')));
    socket.send(
      JSON.stringify({
        type: 'error',
        code: 'FORBIDDEN',
        channel,
        detail: 'not allowed to read this channel',
      }),
    );
    await expect.poll(() => errors).toEqual(['FORBIDDEN: not allowed to read this channel']);
    expect(resets).toBe(1);
    // Offset 7 was already part of the state the reload fetches.
    expect(received).toEqual([8]);
  });

  it('shares one subscription among the components that read a channel, and ends it with the last', async () => {
    const gw = await gateway();
    server = gw.server;
    live = connectLive(gw.url, { credential: ticket, WebSocket: WebSocket as never });
    const bell: number[] = [];
    const page: number[] = [];
    const offBell = live.subscribe(channel, { message: (m) => bell.push(m.offset) });
    const offPage = live.subscribe(channel, { message: (m) => page.push(m.offset) });
    await expect.poll(() => gw.frames[0]?.length).toBe(1);
    const socket = gw.sockets[0]!;
    socket.send(JSON.stringify({ type: 'subscribed', channel, epoch: 'e1', offset: 0, recovered: true }));
    socket.send(JSON.stringify(envelope(1)));
    await expect.poll(() => [bell, page]).toEqual([[1], [1]]);
    offPage();
    socket.send(JSON.stringify(envelope(2)));
    await expect.poll(() => bell).toEqual([1, 2]);
    expect(page).toEqual([1]);
    offPage(); // twice: no effect on the other reader
    offBell();
    await expect
      .poll(() => gw.frames[0])
      .toEqual([
        { type: 'subscribe', channel, since: { offset: 0 } },
        { type: 'unsubscribe', channel },
      ]);
    // A reader after the last left subscribes anew.
    live.subscribe(channel, { message: () => {} });
    await expect.poll(() => gw.frames[0]?.length).toBe(3);
  });

  it('unsubscribes, and after close() stays closed', async () => {
    const gw = await gateway();
    server = gw.server;
    live = connectLive(gw.url, { credential: ticket, maxReconnectMs: 40, WebSocket: WebSocket as never });
    const off = live.subscribe(channel, { message: () => {} });
    await expect.poll(() => live!.state).toBe('open');
    off();
    await expect
      .poll(() => gw.frames[0])
      .toEqual([
        { type: 'subscribe', channel, since: { offset: 0 } },
        { type: 'unsubscribe', channel },
      ]);
    live.close();
    await expect.poll(() => gw.sockets[0]!.readyState).toBe(WebSocket.CLOSED);
    expect(live.state).toBe('closed');
    expect(gw.sockets).toHaveLength(1);
  });

  it('reports a revoked credential (the session was signed out elsewhere) and does not reconnect', async () => {
    const gw = await gateway();
    server = gw.server;
    let revoked = 0;
    live = connectLive(gw.url, {
      credential: ticket,
      maxReconnectMs: 40,
      WebSocket: WebSocket as never,
      onRevoked: () => revoked++,
    });
    await expect.poll(() => live!.state).toBe('open');
    gw.sockets[0]!.close(4001, 'session ended');
    await expect.poll(() => live!.state).toBe('closed');
    expect(revoked).toBe(1);
    expect(gw.sockets).toHaveLength(1);
  });
});
