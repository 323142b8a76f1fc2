import { createServer, request } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Egress, parseAllowlist } from '@crucible/egress';
import { EgressProxy } from '../src/engines/browser/egress-proxy.js';

// The browser's forwarding proxy on its own, driven by plain HTTP clients: what it lets through,
// what it refuses (and records), and that it dials the address the guard checked.

let allowed: Server;
let canary: Server;
let allowedPort: number;
let canaryPort: number;
let canaryConnections = 0;
let lastHost: string | undefined;

async function listen(server: Server, host: string): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  allowed = createServer((req, res) => {
    lastHost = req.headers.host;
    res.end(`hello ${req.url}`);
  });
  canary = createServer((_req, res) => res.end('canary'));
  canary.on('connection', () => (canaryConnections += 1));
  allowedPort = await listen(allowed, '127.0.0.1');
  canaryPort = await listen(canary, '127.0.0.2');
});
afterAll(async () => {
  await new Promise((r) => allowed.close(r));
  await new Promise((r) => canary.close(r));
});

const resolved: string[] = [];
const egress = new Egress({
  allowlist: parseAllowlist('127.0.0.1/32'),
  resolver: async (host) => {
    resolved.push(host);
    if (host === 'site.test') return [{ address: '127.0.0.1', family: 4 }];
    if (host === 'rebind.test') return [{ address: '127.0.0.2', family: 4 }];
    throw new Error('no such host');
  },
});

type Answer = { status: number; body: string; headers: IncomingHttpHeaders };

function viaProxy(proxy: string, target: string): Promise<Answer> {
  const { hostname, port } = new URL(proxy);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: hostname, port, path: target, headers: { host: new URL(target).host } },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function connectVia(proxy: string, authority: string): Promise<number> {
  const { hostname, port } = new URL(proxy);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method: 'CONNECT', path: authority });
    req.on('connect', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('egress proxy', () => {
  let proxy: EgressProxy;
  let url: string;
  beforeAll(async () => {
    proxy = new EgressProxy(egress);
    url = await proxy.listen();
  });
  afterAll(() => proxy.close());

  it('forwards plain HTTP to an allowed address', async () => {
    const answer = await viaProxy(url, `http://127.0.0.1:${allowedPort}/page?x=1`);
    expect({ status: answer.status, body: answer.body }).toEqual({ status: 200, body: 'hello /page?x=1' });
  });

  it('dials the address the guard resolved, keeping the Host the page asked for', async () => {
    const answer = await viaProxy(url, `http://site.test:${allowedPort}/named`);
    expect(answer.body).toBe('hello /named');
    expect(lastHost).toBe(`site.test:${allowedPort}`);
    expect(resolved.filter((h) => h === 'site.test')).toEqual(['site.test']);
  });

  it('refuses a refused address, by literal or by DNS, over HTTP and CONNECT, and records each', async () => {
    expect((await viaProxy(url, `http://127.0.0.2:${canaryPort}/img`)).status).toBe(403);
    expect((await viaProxy(url, `http://rebind.test:${canaryPort}/x`)).status).toBe(403);
    expect(await connectVia(url, `127.0.0.2:${canaryPort}`)).toBe(403);
    expect(await connectVia(url, `127.0.0.1:22`)).toBe(403);
    expect(canaryConnections).toBe(0);
    expect(proxy.refused()).toEqual([
      {
        target: `http://127.0.0.2:${canaryPort}/img`,
        reason: 'target refused: 127.0.0.2 is a loopback address',
        count: 1,
      },
      {
        target: `http://rebind.test:${canaryPort}/x`,
        reason: 'target refused: rebind.test resolves to 127.0.0.2 is a loopback address',
        count: 1,
      },
      {
        target: `127.0.0.2:${canaryPort}`,
        reason: 'target refused: 127.0.0.2 is a loopback address',
        count: 1,
      },
      { target: '127.0.0.1:22', reason: 'port 22 is not a web port and cannot be tested', count: 1 },
    ]);
  });

  it("refuses Chromium's own services by name, over HTTP and CONNECT, without resolving them", async () => {
    resolved.length = 0;
    expect((await viaProxy(url, 'http://update.googleapis.com/service/update2/json')).status).toBe(403);
    expect((await viaProxy(url, 'http://redirector.gvt1.com/edgedl/chrome/dict/en-us.bdic')).status).toBe(
      403,
    );
    expect(await connectVia(url, 'accounts.google.com:443')).toBe(403);
    expect(await connectVia(url, 'clients2.google.com:443')).toBe(403);
    expect(resolved).toEqual([]);
    expect(proxy.refused().slice(-4)).toEqual([
      {
        target: 'http://update.googleapis.com/service/update2/json',
        reason: 'update.googleapis.com is a service of the browser itself, refused by name',
        count: 1,
      },
      {
        target: 'http://redirector.gvt1.com/edgedl/chrome/dict/en-us.bdic',
        reason: 'redirector.gvt1.com is a service of the browser itself, refused by name',
        count: 1,
      },
      {
        target: 'accounts.google.com:443',
        reason: 'accounts.google.com is a service of the browser itself, refused by name',
        count: 1,
      },
      {
        target: 'clients2.google.com:443',
        reason: 'clients2.google.com is a service of the browser itself, refused by name',
        count: 1,
      },
    ]);
  });

  it('opens a CONNECT tunnel to an allowed address', async () => {
    expect(await connectVia(url, `127.0.0.1:${allowedPort}`)).toBe(200);
  });
});
