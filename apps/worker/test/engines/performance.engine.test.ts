import { createSecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import selfsigned from 'selfsigned';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineError } from '../../src/errors.js';
import { runPerformance } from '../../src/engines/performance.engine.js';
import { closeServers, closedPort, listen, listenTls, loopbackEgress, recorder } from './fixtures.js';

afterEach(closeServers);

const HTML = `<!doctype html><html><head><title>fixture</title>
<link rel="stylesheet" href="/style.css"><script src="/app.js"></script>
<link rel="preload" as="font" href="/preloaded.woff2"></head>
<body><img src="/a.png"><img src="a.png#again"><img src="/missing.png"><img src="data:image/png;base64,AA==">
<p>${'lorem ipsum '.repeat(400)}</p></body></html>`;
const CSS = `@font-face { font-family: x; src: url('/fonts/x.woff2') format('woff2'); } body { color: red }`;
const FILES: Record<string, [string, Buffer]> = {
  '/style.css': ['text/css', Buffer.from(CSS)],
  '/app.js': ['text/javascript', Buffer.alloc(3000, 'a')],
  '/a.png': ['image/png', Buffer.alloc(2000, 1)],
  '/preloaded.woff2': ['font/woff2', Buffer.alloc(700, 2)],
  '/fonts/x.woff2': ['font/woff2', Buffer.alloc(900, 3)],
};

describe('runPerformance', () => {
  it('times every request on fresh connections, sizes the page’s resources and scores it', async () => {
    const gz = gzipSync(HTML);
    let connections = 0;
    const site = await listen((req, res) => {
      if (req.url === '/page') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-encoding': 'gzip' });
        return res.end(gz);
      }
      const file = FILES[req.url!];
      if (!file) {
        res.writeHead(404);
        return res.end('nope');
      }
      res.writeHead(200, { 'content-type': file[0] });
      res.end(file[1]);
    });
    site.server.on('connection', () => connections++);
    const rec = recorder();

    const result = await runPerformance(`${site.url}/page`, { iterations: 4 }, rec.ctx());

    expect(result.iterations).toHaveLength(4);
    expect(rec.calls.map((c) => [c.pct, c.stage])).toEqual([
      [25, 'request'],
      [50, 'request'],
      [75, 'request'],
      [99, 'request'],
      [99, 'resources'],
    ]);
    for (const run of result.iterations) {
      expect(run.ok).toBe(true);
      if (!run.ok) continue;
      expect(run).toMatchObject({
        status: 200,
        bytes: gz.length,
        truncated: false,
        contentEncoding: 'gzip',
        httpVersion: '1.1',
        remoteAddress: '127.0.0.1',
        redirects: 0,
      });
      expect(run.timings.dns).toBe(0);
      expect(run.timings.tls).toBe(0);
      expect(run.timings.total).toBeGreaterThanOrEqual(run.timings.ttfb);
    }
    expect(result.statusCodes).toEqual({ '200': 4 });
    expect(result.requests).toEqual({ total: 4, succeeded: 4, failed: 0 });
    expect([result.bytes, result.decodedBytes]).toEqual([gz.length, Buffer.byteLength(HTML)]);
    const totals = result.iterations.map((run) => (run.ok ? run.timings.total : NaN));
    expect(result.summary.total.max).toBe(Math.max(...totals));
    expect(Object.keys(result.summary).sort()).toEqual([
      'connect',
      'dns',
      'download',
      'tls',
      'total',
      'ttfb',
    ]);

    // Each document request and each resource had a connection of its own.
    expect(connections).toBe(4 + 6);
    expect(result.resources.byKind).toEqual({
      script: { count: 1, fetched: 1, bytes: 3000 },
      stylesheet: { count: 1, fetched: 1, bytes: CSS.length },
      image: { count: 2, fetched: 2, bytes: 2000 + 4 },
      font: { count: 2, fetched: 2, bytes: 700 + 900 },
    });
    expect(result.resources.total).toEqual({
      count: 6,
      fetched: 6,
      bytes: 3000 + CSS.length + 2004 + 1600,
      failed: 1,
    });
    expect(result.resources.items.find((r) => r.url.endsWith('/missing.png'))?.status).toBe(404);
    expect(result.scoreFactors.find((f) => f.name === 'compression')?.points).toBe(10);
    expect(result.scoreFactors.find((f) => f.name === 'status')?.points).toBe(0);
    expect(result.score).toBe(result.scoreFactors.reduce((s, f) => s + f.points, 0));
  });

  it('defaults to 3 iterations and reports the status the site answered', async () => {
    const site = await listen((_req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('down');
    });
    const rec = recorder();
    const result = await runPerformance(site.url, {}, rec.ctx());
    expect(rec.calls.map((c) => c.pct)).toEqual([33, 67, 99]);
    expect(result.statusCodes).toEqual({ '503': 3 });
    expect(result.bytes).toBe(4);
    expect(result.resources.total.count).toBe(0);
    expect(result.scoreFactors.find((f) => f.name === 'status')?.points).toBe(0);
  });

  it('rejects with a clear error when nothing listens on the target', async () => {
    const port = await closedPort();
    const rec = recorder();
    const run = runPerformance(`http://127.0.0.1:${port}/`, { iterations: 2 }, rec.ctx());
    await expect(run).rejects.toThrow(
      `all 2 requests to http://127.0.0.1:${port}/ failed; first error: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
    expect(rec.calls.map((c) => c.data.error)).toEqual([
      `connect ECONNREFUSED 127.0.0.1:${port}`,
      `connect ECONNREFUSED 127.0.0.1:${port}`,
    ]);
  });

  it('fails at once, without a request, for a target the guard refuses', async () => {
    const rec = recorder();
    const refused = runPerformance('http://127.0.0.2:8080/', {}, rec.ctx());
    await expect(refused).rejects.toBeInstanceOf(EngineError);
    await expect(refused).rejects.toMatchObject({
      code: 'TARGET_REFUSED',
      retryable: false,
      message: 'target refused: 127.0.0.2 is a loopback address',
    });
    await expect(runPerformance('ftp://127.0.0.1/', {}, rec.ctx())).rejects.toMatchObject({
      code: 'INVALID_TARGET',
      message: 'only http and https URLs can be tested, not ftp:',
    });
    expect(rec.calls).toEqual([]);
  });

  it('fails when a redirect leads to a refused address', async () => {
    const site = await listen((_req, res) => {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
      res.end();
    });
    await expect(runPerformance(site.url, { iterations: 1 }, recorder().ctx())).rejects.toMatchObject({
      code: 'TARGET_REFUSED',
      message: 'target refused: 169.254.169.254 is a linkLocal address',
    });
  });

  it('stops at once when aborted, with the abort reason', async () => {
    const site = await listen(() => {});
    const controller = new AbortController();
    const rec = recorder();
    const reason = new EngineError('CANCELLED', 'the test was cancelled while running');
    const run = runPerformance(
      site.url,
      { iterations: 5, timeoutMs: 60_000 },
      rec.ctx({ signal: controller.signal }),
    );
    await expect.poll(() => site.hits.length).toBe(1);
    controller.abort(reason);
    await expect(run).rejects.toBe(reason);
    expect(rec.calls).toEqual([]);
  });

  it('records a request that exceeds timeoutMs as failed', async () => {
    const site = await listen(() => {});
    const rec = recorder();
    const url = `${site.url}/slow/page?x=1`;
    await expect(runPerformance(url, { iterations: 1, timeoutMs: 1000 }, rec.ctx())).rejects.toThrow(
      `all 1 requests to ${url} failed; first error: timed out after 1000 ms without a complete response`,
    );
    expect(rec.calls).toHaveLength(1);
  });

  it('times the TLS handshake of an https target whose certificate it trusts', async () => {
    const site = await listenTls((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('secure');
    });
    const result = await runPerformance(
      `${site.url}/`,
      { iterations: 2 },
      recorder().ctx({ http: loopbackEgress({ ca: site.cert }) }),
    );
    expect(result.statusCodes).toEqual({ '200': 2 });
    for (const run of result.iterations) expect(run.ok && run.timings.tls > 0).toBe(true);
    expect(result.httpVersion).toBe('1.1');
  });

  it('reports HTTP/2 when the server agrees to it', async () => {
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'h2' }], {
      keyType: 'ec',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    });
    const server = createSecureServer(
      { key: pems.private, cert: pems.cert, allowHTTP1: true },
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('h2');
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const result = await runPerformance(
        `https://127.0.0.1:${port}/`,
        { iterations: 1 },
        recorder().ctx({ http: loopbackEgress({ ca: pems.cert }) }),
      );
      expect(result.httpVersion).toBe('2');
      expect(result.bytes).toBe(2);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('refuses a certificate it cannot verify', async () => {
    const site = await listenTls((_req, res) => res.end('x'));
    await expect(runPerformance(`${site.url}/`, { iterations: 1 }, recorder().ctx())).rejects.toThrow(
      'first error: self-signed certificate',
    );
  });
});
