import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineError } from '../errors.js';
import { timedGet } from '../http.js';
import { runPerformance } from './performance.engine.js';
import type { PerformanceResult } from './performance.engine.js';

const BODY = '<!doctype html><title>fixture</title><p>' + 'x'.repeat(5000) + '</p>';

const servers: Server[] = [];

const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/${name}`, import.meta.url));

/** An HTTPS server with a self-signed certificate for localhost and 127.0.0.1. */
async function listenTls(): Promise<string> {
  const server = createHttpsServer(
    { key: fixture('self-signed.key'), cert: fixture('self-signed.crt') },
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(BODY);
    },
  );
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A port that was free a moment ago: nothing listens on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

afterEach(async () => {
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

function recorder() {
  const calls: { pct: number; stage: string; data: Record<string, unknown> }[] = [];
  return {
    calls,
    progress: (pct: number, stage: string, data?: object) =>
      void calls.push({ pct, stage, data: { ...data } }),
  };
}

describe('runPerformance', () => {
  it('times every iteration on its own connection and summarises the phases', async () => {
    const connections = new Set<unknown>();
    const base = await listen((req, res) => {
      connections.add(req.socket);
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(BODY);
    });
    const { calls, progress } = recorder();

    const result: PerformanceResult = await runPerformance(
      `${base}/page?x=1`,
      { iterations: 4 },
      {
        signal: new AbortController().signal,
        progress,
      },
    );

    expect(result.iterations).toHaveLength(4);
    expect(connections.size).toBe(4);
    expect(calls.map((c) => c.pct)).toEqual([25, 50, 75, 99]);
    expect(calls.map((c) => c.data.iteration)).toEqual([1, 2, 3, 4]);
    for (const run of result.iterations) {
      expect(run.ok).toBe(true);
      if (!run.ok) continue;
      expect(run.status).toBe(200);
      expect(run.bytes).toBe(Buffer.byteLength(BODY));
      expect(run.truncated).toBe(false);
      expect(run.contentType).toBe('text/html');
      expect(run.httpVersion).toBe('1.1');
      expect(run.remoteAddress).toBe('127.0.0.1');
      // An IP literal needs no lookup and plain HTTP no handshake.
      expect(run.timings.dns).toBe(0);
      expect(run.timings.tls).toBe(0);
      for (const ms of Object.values(run.timings)) expect(ms).toBeGreaterThanOrEqual(0);
      expect(run.timings.total).toBeGreaterThanOrEqual(run.timings.ttfb);
    }
    expect(result.statusCodes).toEqual({ '200': 4 });
    expect(result.requests).toEqual({ total: 4, succeeded: 4, failed: 0 });
    expect(result.bytes).toBe(Buffer.byteLength(BODY));
    expect(Object.keys(result.summary).sort()).toEqual([
      'connect',
      'dns',
      'download',
      'tls',
      'total',
      'ttfb',
    ]);
    const totals = result.iterations.map((run) => (run.ok ? run.timings.total : NaN));
    expect(result.summary.total.max).toBe(Math.max(...totals));
    expect(result.summary.total.min).toBe(Math.min(...totals));
  });

  it('defaults to 3 iterations and reports the status the site answered', async () => {
    const base = await listen((_req, res) => {
      res.writeHead(503);
      res.end('down');
    });
    const { calls, progress } = recorder();

    const result = await runPerformance(base, {}, { signal: new AbortController().signal, progress });

    expect(calls.map((c) => c.pct)).toEqual([33, 67, 99]);
    expect(result.statusCodes).toEqual({ '503': 3 });
    expect(result.bytes).toBe(4);
  });

  it('rejects with a clear error when nothing listens on the target', async () => {
    const port = await closedPort();
    const { calls, progress } = recorder();

    const run = runPerformance(
      `http://127.0.0.1:${port}/`,
      { iterations: 2 },
      {
        signal: new AbortController().signal,
        progress,
      },
    );

    await expect(run).rejects.toThrow(EngineError);
    await expect(run).rejects.toThrow(
      `all 2 requests to http://127.0.0.1:${port} failed; first error: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
    expect(calls.map((c) => c.data.error)).toEqual([
      `connect ECONNREFUSED 127.0.0.1:${port}`,
      `connect ECONNREFUSED 127.0.0.1:${port}`,
    ]);
  });

  it('stops at once when aborted, with the abort reason', async () => {
    // The server never answers: only the abort can end the request.
    const base = await listen(() => {});
    const controller = new AbortController();
    const { calls, progress } = recorder();
    const reason = new EngineError('CANCELLED', 'the test was cancelled while running');

    const run = runPerformance(
      base,
      { iterations: 5, timeoutMs: 60_000 },
      { signal: controller.signal, progress },
    );
    setTimeout(() => controller.abort(reason), 50);

    await expect(run).rejects.toBe(reason);
    expect(calls).toEqual([]);
  });

  it('records a request that exceeds timeoutMs as failed', async () => {
    const base = await listen(() => {});
    const { calls, progress } = recorder();

    const run = runPerformance(
      base,
      { iterations: 1, timeoutMs: 1000 },
      { signal: new AbortController().signal, progress },
    );

    await expect(run).rejects.toThrow('first error: no complete response within 1000 ms');
    expect(calls).toHaveLength(1);
  });

  it('times the TLS handshake of an https target', async () => {
    const base = await listenTls();
    const { progress } = recorder();

    const result = await runPerformance(
      `${base}/`,
      { iterations: 2 },
      {
        signal: new AbortController().signal,
        progress,
        // The fixture certificate is self-signed: trust it for this test only.
        http: (url, options) => timedGet(url, { ...options, rejectUnauthorized: false }),
      },
    );

    expect(result.statusCodes).toEqual({ '200': 2 });
    expect(result.bytes).toBe(Buffer.byteLength(BODY));
    for (const run of result.iterations) {
      expect(run.ok && run.timings.tls > 0).toBe(true);
    }
  });

  it('refuses a certificate it cannot verify', async () => {
    const base = await listenTls();
    const { progress } = recorder();

    await expect(
      runPerformance(`${base}/`, { iterations: 1 }, { signal: new AbortController().signal, progress }),
    ).rejects.toThrow('first error: self-signed certificate');
  });

  it('refuses targets that are not http(s)', async () => {
    const { progress } = recorder();
    await expect(
      runPerformance('ftp://127.0.0.1/', {}, { signal: new AbortController().signal, progress }),
    ).rejects.toThrow('only http and https URLs can be tested, not ftp:');
  });
});
