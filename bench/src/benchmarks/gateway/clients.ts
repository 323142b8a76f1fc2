// The client side of the gateway benchmark, in a process of its own so that neither its memory
// nor its event loop counts against the server measured. Driven over HTTP on PORT:
//   POST /open   {set, url, tokens, count, channel?, localAddresses}  opens (and subscribes) sockets
//   POST /close  {set}                                                 closes a set
//   POST /mode   {mode: "count" | "latency"}                           resets the counters
//   POST /await  {total}                                               answers once `total` arrived
//   GET  /stats                                                        {received, count, p50, p99}
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import WebSocket from 'ws';
import { ACK_IDS_MAX, DEFAULT_ACK_DELAY_MS } from '@crucible/contracts/socket-frames';
import { LatencyRecorder } from '../../lib/latency.js';

interface OpenRequest {
  set: string;
  url: string;
  /** One per socket, round robin; empty opens without a credential (the bare anchor). */
  tokens: string[];
  count: number;
  channel?: string;
  /** Source addresses, round robin (127.0.0.x), so 10,000 sockets do not run out of ports. */
  localAddresses: string[];
}

const sets = new Map<string, WebSocket[]>();
// Every channel message carries `sentAt` once, in an envelope of its own or inside a batch.
const MARKER = Buffer.from('"sentAt":');
let mode: 'count' | 'latency' = 'count';
let received = 0;
let latency = new LatencyRecorder();
let waiting: { total: number; done: () => void } | undefined;

const wallNow = () => performance.timeOrigin + performance.now();

// Acks go out as `@crucible/client` sends them: each socket's gathered for DEFAULT_ACK_DELAY_MS into
// one frame (`{"type":"ack","ids":[…]}`), never inline — sending them inline would also charge this
// process's own work of acknowledging to the latency of the frames read after them, a cost the bare
// anchor's readers (who do not ack) never pay. The gateway still receives and records every ack.
let acks = new Map<WebSocket, string[]>();
function ack(socket: WebSocket, id: string): void {
  if (acks.size === 0) setTimeout(sendAcks, DEFAULT_ACK_DELAY_MS);
  const ids = acks.get(socket);
  if (ids) ids.push(id);
  else acks.set(socket, [id]);
}
function sendAcks(): void {
  const due = acks;
  acks = new Map();
  for (const [socket, ids] of due) {
    if (socket.readyState !== WebSocket.OPEN) continue;
    for (let i = 0; i < ids.length; i += ACK_IDS_MAX) {
      const chunk = ids.slice(i, i + ACK_IDS_MAX);
      socket.send(
        JSON.stringify(chunk.length === 1 ? { type: 'ack', id: chunk[0] } : { type: 'ack', ids: chunk }),
      );
    }
  }
}

function onChannelFrame(socket: WebSocket, data: Buffer): void {
  if (mode === 'count') {
    // Counting by scanning the bytes keeps this process cheaper than the servers it measures.
    for (let at = data.indexOf(MARKER); at !== -1; at = data.indexOf(MARKER, at + MARKER.length)) received++;
  } else {
    const now = wallNow();
    const frame = JSON.parse(data.toString('utf8')) as Record<string, any>;
    const messages = frame.type === 'batch' ? (frame.messages as Record<string, any>[]) : [frame];
    for (const message of messages) {
      if (typeof message.data?.sentAt !== 'number') continue;
      received++;
      latency.record(now - message.data.sentAt);
      // As a real client does: acknowledge what asks for it (the gateway tracks it until then).
      if (message.ackRequired) ack(socket, message.id as string);
    }
  }
  if (waiting && received >= waiting.total) {
    waiting.done();
    waiting = undefined;
  }
}

function openOne(request: OpenRequest, i: number): Promise<WebSocket> {
  const token = request.tokens.length ? `?token=${request.tokens[i % request.tokens.length]}` : '';
  const localAddress = request.localAddresses[i % request.localAddresses.length];
  const socket = new WebSocket(request.url + token, { localAddress });
  return new Promise((resolve, reject) => {
    // Before open it fails the request; after, the close that follows is what counts.
    socket.on('error', reject);
    socket.once('unexpected-response', (_req, res) =>
      reject(new Error(`upgrade refused with ${res.statusCode}`)),
    );
    socket.once('open', () => {
      if (!request.channel) {
        // Idle: whatever the server says (its hello) is read and dropped.
        socket.on('message', () => {});
        return resolve(socket);
      }
      socket.send(JSON.stringify({ type: 'subscribe', channel: request.channel }));
      const wait = (data: Buffer) => {
        const text = data.toString('utf8');
        if (text.includes('"type":"error"')) reject(new Error(`subscribe refused: ${text}`));
        if (!text.includes('"type":"subscribed"')) return;
        socket.off('message', wait);
        socket.on('message', (frame: Buffer) => onChannelFrame(socket, frame));
        resolve(socket);
      };
      socket.on('message', wait);
    });
  });
}

async function open(request: OpenRequest): Promise<number> {
  const sockets = sets.get(request.set) ?? [];
  sets.set(request.set, sockets);
  // A few hundred upgrades in flight at once: enough to keep the server busy, not a SYN flood.
  let next = 0;
  const worker = async () => {
    while (next < request.count) sockets.push(await openOne(request, next++));
  };
  await Promise.all(Array.from({ length: Math.min(200, request.count) }, worker));
  return sockets.length;
}

async function close(set: string): Promise<void> {
  const sockets = sets.get(set) ?? [];
  sets.delete(set);
  await Promise.all(
    sockets.map(
      (socket) =>
        new Promise<void>((resolve) => {
          if (socket.readyState === WebSocket.CLOSED) return resolve();
          socket.once('close', () => resolve());
          socket.close();
          // A server that does not finish the handshake must not hold the benchmark.
          setTimeout(() => socket.terminate(), 5_000).unref();
        }),
    ),
  );
}

async function body(req: IncomingMessage): Promise<any> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text ? JSON.parse(text) : {};
}

function reply(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
}

const server = createServer((req, res) => {
  void (async () => {
    try {
      const input = req.method === 'POST' ? await body(req) : {};
      switch (req.url) {
        case '/health/ready':
          return reply(res, 200, { ok: true });
        case '/open':
          return reply(res, 200, { open: await open(input as OpenRequest) });
        case '/close':
          await close(input.set);
          return reply(res, 200, {});
        case '/mode':
          mode = input.mode;
          received = 0;
          latency = new LatencyRecorder();
          return reply(res, 200, {});
        case '/await': {
          // A lost message (or a socket closed as a slow consumer) must fail the round, not hang it.
          const deadline = new Promise<'late'>((resolve) =>
            setTimeout(() => resolve('late'), 120_000).unref(),
          );
          const arrived = new Promise<void>((done) => {
            if (received >= input.total) return done();
            waiting = { total: input.total, done };
          });
          if ((await Promise.race([arrived, deadline])) === 'late') {
            return reply(res, 500, { error: `only ${received} of ${input.total} messages arrived` });
          }
          return reply(res, 200, { received });
        }
        case '/stats':
          return reply(res, 200, {
            received,
            count: latency.count,
            p50: latency.percentile(50),
            p99: latency.percentile(99),
          });
        default:
          return reply(res, 404, {});
      }
    } catch (err) {
      reply(res, 500, { error: String(err) });
    }
  })();
});
server.keepAliveTimeout = 60_000;
server.requestTimeout = 0;
server.listen(Number(process.env.PORT), '127.0.0.1');
process.once('SIGTERM', () => {
  for (const sockets of sets.values()) for (const socket of sockets) socket.terminate();
  server.close(() => process.exit(0));
});
