import { createServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { connect as netConnect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { EgressError, bareHost } from '@crucible/egress';
import type { Egress, ResolvedAddress } from '@crucible/egress';
import { isBrowserServiceHost } from './browser-services.js';

// The browser's only way out. Chromium is launched with `--proxy-server` pointing here and
// `--proxy-bypass-list=<-loopback>`, so every connection it opens — the document, subresources,
// redirects (each a new request), fetch/XHR, iframes, prefetch, service workers, and WebSocket or
// HTTPS as CONNECT tunnels — arrives as a proxy request. Each is judged by the worker's egress guard
// (allow-list, private ranges, bad ports) and dialled at the very address the guard resolved and
// checked, so a DNS answer that changes afterwards (rebinding) never reaches a socket. Chromium's
// own services (updates, sign-in, Safe Browsing…: browser-services.ts) are refused by name before
// that, with no DNS lookup. A refused connection is answered 403 and recorded: the result lists it
// instead of the test crashing.

/** Upstream connect bound; a page waiting longer is a slow page, not a stuck worker. */
const CONNECT_TIMEOUT_MS = 10_000;
/** A tunnel or upstream socket idle this long is closed. */
const IDLE_TIMEOUT_MS = 60_000;

/** Headers that describe the hop to the proxy, never forwarded (RFC 9110 §7.6.1). */
const HOP_HEADERS = new Set([
  'proxy-connection',
  'proxy-authorization',
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export interface RefusedConnection {
  target: string;
  reason: string;
}

/** A forwarding HTTP proxy on 127.0.0.1 that lets through only what `egress` accepts. */
export class EgressProxy {
  readonly #egress: Egress;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #refused = new Map<string, { reason: string; count: number }>();

  constructor(egress: Egress) {
    this.#egress = egress;
    this.#server = createServer((req, res) => void this.#forward(req, res));
    this.#server.on(
      'connect',
      (req: IncomingMessage, socket: Socket, head: Buffer) => void this.#tunnel(req, socket, head),
    );
    this.#server.on(
      'upgrade',
      (req: IncomingMessage, socket: Socket, head: Buffer) => void this.#upgrade(req, socket, head),
    );
    this.#server.on('connection', (socket: Socket) => this.#track(socket));
    this.#server.on('clientError', (_err, socket) => socket.destroy());
  }

  /** Listens on an ephemeral loopback port; resolves with the proxy's `http://127.0.0.1:port`. */
  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => resolve());
    });
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** What was refused so far, one entry per target with how often. */
  refused(): { target: string; reason: string; count: number }[] {
    return [...this.#refused].map(([target, r]) => ({ target, reason: r.reason, count: r.count }));
  }

  /** Stops listening and cuts every connection, both sides. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  #refuse(target: string, err: unknown): void {
    const reason = err instanceof Error ? err.message : String(err);
    const seen = this.#refused.get(target);
    if (seen) seen.count += 1;
    else this.#refused.set(target, { reason, count: 1 });
  }

  /** The address to dial for `url`, checked by the guard; null (and recorded) when refused. */
  async #check(url: URL, label: string): Promise<ResolvedAddress | null> {
    try {
      const host = bareHost(url);
      if (isBrowserServiceHost(host)) {
        throw new EgressError(
          'TARGET_REFUSED',
          `${host} is a service of the browser itself, refused by name`,
        );
      }
      this.#egress.checkUrl(url);
      return await this.#egress.resolve(host);
    } catch (err) {
      if (err instanceof EgressError) {
        this.#refuse(label, err);
        return null;
      }
      throw err;
    }
  }

  /** Plain HTTP in proxy form (`GET http://host/path`). */
  async #forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '');
      if (url.protocol !== 'http:') throw new Error('not http');
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('only absolute http:// URLs are proxied');
      return;
    }
    const label = `${url.origin}${url.pathname}`;
    const address = await this.#check(url, label).catch(() => null);
    if (!address) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('refused by the egress policy');
      return;
    }
    const upstream = httpRequest({
      host: address.address,
      family: address.family,
      port: Number(url.port) || 80,
      method: req.method,
      path: `${url.pathname}${url.search}`,
      headers: forwardedHeaders(req),
      timeout: CONNECT_TIMEOUT_MS,
    });
    upstream.on('socket', (socket) => this.#track(socket));
    upstream.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, forwardedHeaders(answer));
      answer.pipe(res);
    });
    upstream.on('timeout', () => upstream.destroy(new Error('upstream timed out')));
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('upstream failed');
      else res.destroy();
    });
    req.pipe(upstream);
  }

  /** `CONNECT host:port`: HTTPS and WebSocket. The bytes inside stay the browser's business. */
  async #tunnel(req: IncomingMessage, client: Socket, head: Buffer): Promise<void> {
    const authority = req.url ?? '';
    let url: URL;
    try {
      url = new URL(`http://${authority}/`);
      if (!url.port) throw new Error('no port');
    } catch {
      client.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    const address = await this.#check(url, authority).catch(() => null);
    if (!address) {
      client.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const upstream = this.#dial(address, Number(url.port), client);
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
  }

  /** A WebSocket handshake sent in proxy form (`GET ws://…` upgraded), relayed as raw bytes. */
  async #upgrade(req: IncomingMessage, client: Socket, head: Buffer): Promise<void> {
    let url: URL;
    try {
      url = new URL((req.url ?? '').replace(/^ws:/, 'http:'));
      if (url.protocol !== 'http:') throw new Error('not http');
    } catch {
      client.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    const address = await this.#check(url, `${url.origin}${url.pathname}`).catch(() => null);
    if (!address) {
      client.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const upstream = this.#dial(address, Number(url.port) || 80, client);
    upstream.once('connect', () => {
      const lines = [`${req.method} ${url.pathname}${url.search} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        if (!req.rawHeaders[i]!.toLowerCase().startsWith('proxy-'))
          lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      }
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
  }

  /** Dials exactly the checked address; a failure closes the browser's side. */
  #dial(address: ResolvedAddress, port: number, client: Socket): Socket {
    const upstream = netConnect({ host: address.address, port, family: address.family });
    this.#track(upstream);
    let connected = false;
    const timer = setTimeout(() => upstream.destroy(new Error('connect timed out')), CONNECT_TIMEOUT_MS);
    upstream.once('connect', () => {
      connected = true;
      clearTimeout(timer);
    });
    upstream.once('close', () => {
      clearTimeout(timer);
      if (connected) client.destroy();
    });
    upstream.once('error', () => {
      if (connected) client.destroy();
      else client.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n');
    });
    client.once('close', () => upstream.destroy());
    return upstream;
  }
}

function forwardedHeaders(message: IncomingMessage): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    if (value !== undefined && !HOP_HEADERS.has(name)) headers[name] = value;
  }
  return headers;
}
