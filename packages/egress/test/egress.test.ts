import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { Client } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Egress, EgressError, decodeBody, parseAllowlist } from '../src/index.js';
import type { ResolvedAddress, Resolver } from '../src/index.js';

// Only loopback is ever dialled. The canary listens on 127.0.0.2 while only 127.0.0.1 is
// allowlisted: whatever spelling, redirect or DNS answer points at it, it must see no connection.

let canary: Server;
let canaryPort: number;
let canaryConnections = 0;

const servers: Server[] = [];

async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  host = '127.0.0.1',
): Promise<{ server: Server; port: number; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    handler(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { server, port: (server.address() as AddressInfo).port, hits };
}

beforeAll(async () => {
  canary = createServer((_req, res) => res.end('canary'));
  canary.on('connection', () => canaryConnections++);
  await new Promise<void>((resolve) => canary.listen(0, '127.0.0.2', resolve));
  canaryPort = (canary.address() as AddressInfo).port;
});

afterEach(async () => {
  expect(canaryConnections).toBe(0);
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

afterAll(async () => {
  canary.closeAllConnections();
  await new Promise<void>((resolve) => canary.close(() => resolve()));
});

const allowlist = parseAllowlist('127.0.0.1');

/** A resolver that never asks the system: names that are not listed do not exist. */
function sequenceResolver(answers: Record<string, string[][]>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const resolver = async (name: string): Promise<ResolvedAddress[]> => {
    calls.push(name);
    const queue = answers[name];
    if (!queue || queue.length === 0) throw new Error(`getaddrinfo ENOTFOUND ${name}`);
    const answer = queue.length > 1 ? queue.shift()! : queue[0]!;
    return answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolver, { calls });
}

const canarySpellings = () => [
  `http://127.0.0.2:${canaryPort}/`,
  `http://127.2:${canaryPort}/`,
  `http://127.0.2:${canaryPort}/`,
  `http://2130706434:${canaryPort}/`,
  `http://0x7f000002:${canaryPort}/`,
  `http://0x7f.0.0.2:${canaryPort}/`,
  `http://0177.0.0.2:${canaryPort}/`,
  `http://0177.0.0.02:${canaryPort}/`,
  `http://127.0.0.2.:${canaryPort}/`,
  `http://１２７.０.０.２:${canaryPort}/`,
  `http://[::ffff:127.0.0.2]:${canaryPort}/`,
  `http://[::ffff:7f00:2]:${canaryPort}/`,
  `http://[0:0:0:0:0:ffff:7f00:0002]:${canaryPort}/`,
  `http://[::127.0.0.2]:${canaryPort}/`,
  `http://[64:ff9b::127.0.0.2]:${canaryPort}/`,
  `https://127.0.0.2:${canaryPort}/`,
];

async function refusedCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof EgressError) return err.code;
    throw err;
  }
  return 'not refused';
}

describe('Egress connections (loopback only)', () => {
  it('has a canary that notices a connection (or its silence would prove nothing)', async () => {
    await new Promise<void>((resolve, reject) => {
      const probe = connect(canaryPort, '127.0.0.2', () => {
        probe.end();
        resolve();
      });
      probe.on('error', reject);
    });
    await expect.poll(() => canaryConnections).toBe(1);
    canaryConnections = 0;
  });

  it('reaches the allowlisted address and returns its answer', async () => {
    const target = await listen((_req, res) => res.end('hello'));
    const egress = new Egress({ allowlist });
    const res = await egress.request(`http://127.0.0.1:${target.port}/x?y=1`);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('hello');
    expect(res.connection.remoteAddress).toBe('127.0.0.1');
    expect(target.hits).toEqual(['/x?y=1']);
  });

  it('refuses every spelling of the canary without connecting', async () => {
    const egress = new Egress({ allowlist });
    for (const url of canarySpellings()) {
      expect({ url, code: await refusedCode(egress.request(url)) }).toEqual({ url, code: 'TARGET_REFUSED' });
    }
  });

  it('refuses a redirect to any spelling of the canary, after following the allowed hop', async () => {
    const spellings = canarySpellings();
    const target = await listen((req, res) => {
      const i = Number(new URL(req.url!, 'http://x').searchParams.get('i'));
      // A header carries ASCII only: the full-width spelling goes percent-encoded, as a server would send it.
      res.writeHead(302, { location: spellings[i]!.replace(/[^ -~]/g, encodeURIComponent) });
      res.end();
    });
    const egress = new Egress({ allowlist });
    for (let i = 0; i < spellings.length; i++) {
      const code = await refusedCode(egress.request(`http://127.0.0.1:${target.port}/?i=${i}`));
      expect({ to: spellings[i], code }).toEqual({ to: spellings[i], code: 'TARGET_REFUSED' });
    }
    expect(target.hits).toHaveLength(spellings.length);
  });

  it('refuses a redirect to a name that resolves to the canary', async () => {
    const resolver = sequenceResolver({ 'evil.test': [['127.0.0.2']] });
    const target = await listen((_req, res) => {
      res.writeHead(307, { location: `http://evil.test:${canaryPort}/` });
      res.end();
    });
    const egress = new Egress({ allowlist, resolver });
    await expect(egress.request(`http://127.0.0.1:${target.port}/`)).rejects.toThrow(
      'target refused: evil.test resolves to 127.0.0.2 is a loopback address',
    );
    expect(resolver.calls).toEqual(['evil.test']);
  });

  it('dials the address it checked even when DNS answers differently next time (rebinding)', async () => {
    const target = await listen((_req, res) => res.end('legit'));
    const resolver = sequenceResolver({ 'rebind.test': [['127.0.0.1'], ['127.0.0.2']] });
    const egress = new Egress({ allowlist, resolver });

    const first = await egress.request(`http://rebind.test:${target.port}/`);
    expect(first.body.toString()).toBe('legit');
    expect(first.connection.remoteAddress).toBe('127.0.0.1');
    // The next connection resolves again, sees the canary and refuses it.
    await expect(egress.request(`http://rebind.test:${canaryPort}/`)).rejects.toThrow(
      'target refused: rebind.test resolves to 127.0.0.2 is a loopback address',
    );
    expect(resolver.calls).toEqual(['rebind.test', 'rebind.test']);
  });

  it('refuses a name when one of several answers is the canary', async () => {
    const resolver = sequenceResolver({ 'split.test': [['127.0.0.1', '127.0.0.2']] });
    const egress = new Egress({ allowlist, resolver });
    expect(await refusedCode(egress.request(`http://split.test:${canaryPort}/`))).toBe('TARGET_REFUSED');
  });

  it('dials the address a pinned connector checked for every connection, never a later DNS answer', async () => {
    // Every answer closes its connection, so each request below needs a new one.
    const target = await listen((_req, res) => {
      res.setHeader('connection', 'close');
      res.end('ok');
    });
    const resolver = sequenceResolver({ 'pinned.test': [['127.0.0.1'], [`127.0.0.2`]] });
    const egress = new Egress({ allowlist, resolver });
    const origin = `http://pinned.test:${target.port}`;
    const { address, connect } = await egress.pinnedConnector(origin);
    expect(address).toEqual({ address: '127.0.0.1', family: 4 });
    const client = new Client(origin, { connect });
    try {
      for (let i = 0; i < 5; i++) {
        const res = await client.request({ method: 'GET', path: `/${i}` });
        expect(await res.body.text()).toBe('ok');
      }
    } finally {
      await client.destroy();
    }
    expect(target.hits).toEqual(['/0', '/1', '/2', '/3', '/4']);
    expect(resolver.calls).toEqual(['pinned.test']);
  });

  it('refuses a pinned connector to a name that resolves to the canary, and any other host on it', async () => {
    const resolver = sequenceResolver({ 'evil.test': [['127.0.0.2']], 'pinned.test': [['127.0.0.1']] });
    const egress = new Egress({ allowlist, resolver });
    expect(await refusedCode(egress.pinnedConnector(`http://evil.test:${canaryPort}`))).toBe(
      'TARGET_REFUSED',
    );
    const { connect } = await egress.pinnedConnector(`http://pinned.test:${canaryPort}`);
    const client = new Client(`http://other.test:${canaryPort}`, { connect });
    try {
      expect(await refusedCode(client.request({ method: 'GET', path: '/' }))).toBe('TARGET_REFUSED');
    } finally {
      await client.destroy();
    }
  });

  it('follows at most 5 redirects', async () => {
    const target = await listen((req, res) => {
      const n = Number(req.url!.slice(1));
      res.writeHead(301, { location: `/${n + 1}` });
      res.end();
    });
    const egress = new Egress({ allowlist });
    await expect(egress.request(`http://127.0.0.1:${target.port}/0`)).rejects.toMatchObject({
      code: 'TOO_MANY_REDIRECTS',
    });
    expect(target.hits).toEqual(['/0', '/1', '/2', '/3', '/4', '/5']);

    const stop = await egress.request(`http://127.0.0.1:${target.port}/0`, { maxRedirects: 0 });
    expect(stop.status).toBe(301);
    const followed = await listen((req, res) => {
      if (req.url === '/end') return res.end('arrived');
      res.writeHead(302, { location: '/end' });
      res.end();
    });
    const res = await egress.request(`http://127.0.0.1:${followed.port}/start`);
    expect(res.body.toString()).toBe('arrived');
    expect(res.url).toBe(`http://127.0.0.1:${followed.port}/end`);
    expect(res.redirects).toEqual([
      {
        url: `http://127.0.0.1:${followed.port}/start`,
        status: 302,
        location: `http://127.0.0.1:${followed.port}/end`,
      },
    ]);
  });

  it('caps the body it keeps and the time it waits', async () => {
    const big = await listen((_req, res) => res.end('x'.repeat(100_000)));
    const slow = await listen(() => {});
    const egress = new Egress({ allowlist });
    const res = await egress.request(`http://127.0.0.1:${big.port}/`, { maxBytes: 1000 });
    expect(res.body.length).toBe(1000);
    expect(res.truncated).toBe(true);
    await expect(egress.request(`http://127.0.0.1:${slow.port}/`, { timeoutMs: 300 })).rejects.toMatchObject({
      code: 'TIMEOUT',
      message: 'timed out after 300 ms without a complete response',
    });
  });

  it('rejects with the caller’s reason when aborted', async () => {
    const slow = await listen(() => {});
    const egress = new Egress({ allowlist });
    const controller = new AbortController();
    const reason = new Error('stop now');
    const run = egress.request(`http://127.0.0.1:${slow.port}/`, { signal: controller.signal });
    await expect.poll(() => slow.hits.length).toBe(1);
    controller.abort(reason);
    await expect(run).rejects.toBe(reason);
  });

  it('decodes a compressed body', async () => {
    const html = '<p>' + 'compressible '.repeat(200) + '</p>';
    const target = await listen((_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip' });
      res.end(gzipSync(html));
    });
    const res = await new Egress({ allowlist }).request(`http://127.0.0.1:${target.port}/`);
    expect(res.body.length).toBeLessThan(html.length);
    expect(decodeBody(res.body, res.headers['content-encoding'], 1_000_000).toString()).toBe(html);
  });
});
