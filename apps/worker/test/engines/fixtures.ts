import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import selfsigned from 'selfsigned';
import { Egress, parseAllowlist } from '@crucible/egress';
import type { EgressOptions } from '@crucible/egress';
import type { EngineContext } from '../../src/engines/engine.js';

// Fixture servers for the engine tests. Every one listens on 127.0.0.1 only, and the engines reach
// them through a guard that allowlists exactly 127.0.0.1: nothing here can leave the machine.

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const servers: Server[] = [];

export interface Fixture {
  url: string;
  port: number;
  /** `METHOD path` of every request received, in order. */
  hits: string[];
  server: Server;
}

function track(server: Server): Promise<number> {
  servers.push(server);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

export async function listen(handler: Handler): Promise<Fixture> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  const port = await track(server);
  return { url: `http://127.0.0.1:${port}`, port, hits, server };
}

export interface TlsFixture extends Fixture {
  cert: string;
}

/** An HTTPS server with a certificate generated now, for 127.0.0.1, valid for `days`. */
export async function listenTls(handler: Handler, days = 30): Promise<TlsFixture> {
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(notBeforeDate.getTime() + days * 86_400_000);
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'crucible-fixture' }], {
    keyType: 'ec',
    notBeforeDate,
    notAfterDate,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
    ],
  });
  const hits: string[] = [];
  const server = createHttpsServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    hits.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  const port = await track(server as unknown as Server);
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    hits,
    server: server as unknown as Server,
    cert: pems.cert,
  };
}

export async function closeServers(): Promise<void> {
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
}

/** The guard the engines use in tests: loopback 127.0.0.1 only. */
export function loopbackEgress(options: EgressOptions = {}): Egress {
  return new Egress({ allowlist: parseAllowlist('127.0.0.1'), ...options });
}

export interface Recorder {
  calls: { pct: number; stage: string; data: Record<string, unknown> }[];
  ctx(extra?: Partial<EngineContext>): EngineContext;
}

export function recorder(): Recorder {
  const calls: Recorder['calls'] = [];
  return {
    calls,
    ctx: (extra = {}) => ({
      signal: new AbortController().signal,
      progress: (pct, stage, data) => void calls.push({ pct, stage, data: { ...data } }),
      http: loopbackEgress(),
      ...extra,
    }),
  };
}

/** A port that was free a moment ago: nothing listens on it. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
