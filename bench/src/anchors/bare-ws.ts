// Anchor: the WebSocket fan-out anyone would write first — a bare `ws` server fed by Redis pub/sub.
// A client sends {"type":"subscribe","channel"}; the server subscribes the Redis channel on its
// first reader, answers {"type":"subscribed"} once Redis confirmed, and sends every message it
// gets to every reader as it came. No authentication, no history, no batching, no limits.
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';

const prefix = process.env.ANCHOR_PREFIX!;
const subscriber = new Redis(process.env.REDIS_URL!);
const readers = new Map<string, Set<WebSocket>>();

subscriber.on('message', (topic: string, raw: string) => {
  const sockets = readers.get(topic.slice(prefix.length + 1));
  if (sockets) for (const socket of sockets) socket.send(raw);
});

const server = createServer((req, res) => {
  res.writeHead(req.url === '/health/ready' ? 200 : 404).end();
});
const wss = new WebSocketServer({ server, path: '/ws' });
wss.on('connection', (socket) => {
  const mine = new Set<string>();
  socket.on('message', (data) => {
    const frame = JSON.parse(String(data)) as { type?: string; channel?: string };
    if (frame.type !== 'subscribe' || typeof frame.channel !== 'string') return;
    const channel = frame.channel;
    let sockets = readers.get(channel);
    const first = !sockets;
    if (!sockets) readers.set(channel, (sockets = new Set()));
    sockets.add(socket);
    mine.add(channel);
    const confirmed = first ? subscriber.subscribe(`${prefix}:${channel}`) : Promise.resolve();
    void confirmed.then(() => socket.send(JSON.stringify({ type: 'subscribed', channel })));
  });
  socket.on('close', () => {
    for (const channel of mine) readers.get(channel)?.delete(socket);
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.once('SIGTERM', () => {
  for (const socket of wss.clients) socket.terminate();
  wss.close();
  server.close(() => {
    subscriber.disconnect();
    process.exit(0);
  });
});
