import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { ResolvedAddress } from '@crucible/egress';
import { EngineError } from '../../src/errors.js';
import { runStress } from '../../src/engines/stress.engine.js';
import { closeServers, closedPort, listen, loopbackEgress, recorder } from './fixtures.js';
import type { Fixture, Recorder } from './fixtures.js';

afterEach(closeServers);

interface CountingTarget extends Fixture {
  received: () => number;
  open: () => number;
  maxOpen: () => number;
  /** Connections accepted in all. */
  accepted: () => number;
}

/** A target that counts what it received and how many sockets are open at once. */
async function countingTarget(status = 200, close = false): Promise<CountingTarget> {
  let received = 0;
  let open = 0;
  let maxOpen = 0;
  let accepted = 0;
  const fixture = await listen((_req, res) => {
    received++;
    res.writeHead(status, { 'content-type': 'text/plain', ...(close ? { connection: 'close' } : {}) });
    res.end('ok');
  });
  fixture.server.on('connection', (socket) => {
    open++;
    accepted++;
    maxOpen = Math.max(maxOpen, open);
    socket.on('close', () => open--);
  });
  return Object.assign(fixture, {
    received: () => received,
    open: () => open,
    maxOpen: () => maxOpen,
    accepted: () => accepted,
  });
}

/** A server on 127.0.0.2 (refused by the loopback guard) that counts the connections it gets. */
async function canary(port: number): Promise<{ server: Server; connections: () => number }> {
  let connections = 0;
  const server = createServer((_req, res) => res.end('canary'));
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.2', resolve));
  return { server, connections: () => connections };
}

/** A resolver that answers `answers[0]` the first time, then `answers[1]` for ever, counting calls. */
function rebindingResolver(answers: [string, string]) {
  const calls: string[] = [];
  const resolver = async (name: string): Promise<ResolvedAddress[]> => {
    calls.push(name);
    return [{ address: answers[calls.length === 1 ? 0 : 1], family: 4 }];
  };
  return Object.assign(resolver, { calls });
}

function withStats(rec: Recorder) {
  const stats: Record<string, unknown>[] = [];
  return { stats, ctx: rec.ctx({ stressStats: (data) => void stats.push({ ...data }) }) };
}

describe('runStress', () => {
  it('counts exactly the requests the target received and reports every second', async () => {
    const target = await countingTarget();
    const rec = recorder();
    const { stats, ctx } = withStats(rec);

    const result = await runStress(`${target.url}/hit?x=1`, { connections: 4, durationSec: 2 }, ctx);

    // The run waits for requests in flight, so nothing the target answered goes uncounted.
    expect(result.totals.responses).toBe(target.received());
    expect(result.totals.requests).toBe(result.totals.responses);
    expect(result.totals.responses).toBeGreaterThan(0);
    expect(result.statusCodes).toEqual({ '200': result.totals.responses });
    expect(result.totals).toMatchObject({
      succeeded: result.totals.responses,
      failed: 0,
      bytes: 2 * result.totals.responses,
    });
    expect(result.errors).toEqual({});
    expect(result.errorRatePct).toBe(0);
    expect(result.limits).toEqual({
      connections: 4,
      durationSec: 2,
      rampUpSec: 0,
      rate: null,
      capped: false,
    });
    // One connection per virtual user, kept alive for the whole run.
    expect(target.maxOpen()).toBe(4);
    expect(target.accepted()).toBe(4);
    expect(Math.max(...result.series.map((p) => p.connections))).toBe(4);
    const l = result.latency!;
    expect(l.min <= l.p50 && l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max).toBe(true);
    expect(result.series.length).toBeGreaterThanOrEqual(1);
    expect(result.series.reduce((s, p) => s + p.requests, 0)).toBeLessThanOrEqual(result.totals.requests);
    expect(rec.calls.every((c) => c.stage === 'load')).toBe(true);
    expect(rec.calls).toHaveLength(result.series.length);
    expect(stats).toHaveLength(result.series.length);
    expect(Object.keys(stats[0]!).sort()).toEqual(
      [
        'active',
        'connections',
        'durationSec',
        'elapsedSec',
        'errors',
        'errorsByKind',
        'p50',
        'p95',
        'p99',
        'requests',
        'rps',
        'second',
        'statusCodes',
        'totalRequests',
      ].sort(),
    );
    expect(target.hits.every((h) => h === 'GET /hit?x=1')).toBe(true);
    expect(result.passed).toBe(true);
    expect(result.thresholds).toEqual([]);
  });

  it('sends the configured method, headers and body, and judges the thresholds', async () => {
    const seen: { method?: string; header?: string; body: string }[] = [];
    const target = await listen((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, header: req.headers['x-load'] as string, body });
        res.end();
      });
    });

    const result = await runStress(
      target.url,
      {
        connections: 2,
        durationSec: 1,
        method: 'PUT',
        headers: { 'x-load': 'yes' },
        body: '{"n":1}',
        thresholds: { p95Ms: 60_000, errorRatePct: 0, minRps: 1e9 },
      },
      recorder().ctx(),
    );

    expect(seen.length).toBe(result.totals.responses);
    expect(seen.every((s) => s.method === 'PUT' && s.header === 'yes' && s.body === '{"n":1}')).toBe(true);
    expect(result.thresholds.map((t) => [t.name, t.limit, t.passed])).toEqual([
      ['p95Ms', 60_000, true],
      ['errorRatePct', 0, true],
      ['minRps', 1e9, false],
    ]);
    expect(result.passed).toBe(false);
  });

  it('counts HTTP errors and transport errors by kind', async () => {
    const failing = await countingTarget(503);
    const result = await runStress(
      failing.url,
      { connections: 2, durationSec: 1, thresholds: { errorRatePct: 5 } },
      recorder().ctx(),
    );
    expect(result.errors).toEqual({ 'HTTP 503': failing.received() });
    expect(result.errorRatePct).toBe(100);
    expect(result.thresholds).toEqual([{ name: 'errorRatePct', limit: 5, actual: 100, passed: false }]);

    const port = await closedPort();
    const dead = await runStress(
      `http://127.0.0.1:${port}/`,
      { connections: 2, durationSec: 1, thresholds: { p95Ms: 100, errorRatePct: 5 } },
      recorder().ctx(),
    );
    expect(dead.totals.responses).toBe(0);
    expect(Object.keys(dead.errors)).toEqual(['ECONNREFUSED']);
    expect(dead.errors.ECONNREFUSED).toBe(dead.totals.requests);
    expect(dead.latency).toBeNull();
    // No response, no latency to judge: the threshold fails with nothing measured (null, which is
    // also what JSON stores; Infinity would be stored as null and read back as another value).
    expect(dead.thresholds).toEqual([
      { name: 'p95Ms', limit: 100, actual: null, passed: false },
      { name: 'errorRatePct', limit: 5, actual: 100, passed: false },
    ]);
    expect(JSON.parse(JSON.stringify(dead))).toEqual(dead);
  });

  it('keeps to the server-side limits whatever the test asks for', async () => {
    const target = await countingTarget();
    const result = await runStress(target.url, { connections: 500, durationSec: 600 }, recorder().ctx(), {
      maxConnections: 3,
      maxDurationSec: 1,
    });
    expect(result.limits).toEqual({ connections: 3, durationSec: 1, rampUpSec: 0, rate: null, capped: true });
    expect(target.maxOpen()).toBe(3);
    expect(result.totals.responses).toBe(target.received());
  });

  it('holds a target rate', async () => {
    const target = await countingTarget();
    const result = await runStress(
      target.url,
      { connections: 4, durationSec: 2, rate: 10 },
      recorder().ctx(),
    );
    // Start times are spaced 100 ms apart from the start: at most 20 in 2 s, plus the one at 0.
    expect(result.totals.responses).toBeLessThanOrEqual(21);
    expect(result.totals.responses).toBe(target.received());
  });

  it('opens as many connections as it is asked for, and lets them in as the ramp allows', async () => {
    const target = await countingTarget();
    const result = await runStress(target.url, { connections: 24, durationSec: 1 }, recorder().ctx());
    expect(target.maxOpen()).toBe(24);
    expect(result.totals.responses).toBe(target.received());

    const ramped = await countingTarget();
    const ramp = await runStress(
      ramped.url,
      { connections: 6, rampUpSec: 1, durationSec: 1 },
      recorder().ctx(),
    );
    // Users waiting for the ramp are let in: in the end every connection was opened.
    expect(ramped.maxOpen()).toBe(6);
    expect(ramp.totals.responses).toBe(ramped.received());
  });

  it('stops the load at once when aborted, leaving no connection open', async () => {
    const target = await countingTarget();
    const controller = new AbortController();
    const reason = new EngineError('CANCELLED', 'the test was cancelled while running');
    let reports = 0;
    const run = runStress(
      target.url,
      { connections: 16, durationSec: 600 },
      recorder().ctx({
        signal: controller.signal,
        progress: () => {
          reports++;
          controller.abort(reason);
        },
      }),
    );
    await expect(run).rejects.toBe(reason);
    const after = target.received();
    expect(after).toBeGreaterThan(0);
    await expect.poll(() => target.open()).toBe(0);
    // Nothing more arrives: no virtual user is left sending, no request was queued to go later.
    await sleep(300);
    expect(target.received()).toBe(after);
    expect(reports).toBe(1);
  });

  it('does not start when the signal is already aborted', async () => {
    const target = await countingTarget();
    const controller = new AbortController();
    const reason = new EngineError('CANCELLED', 'cancelled before it started');
    controller.abort(reason);
    await expect(
      runStress(
        target.url,
        { connections: 2, durationSec: 1 },
        recorder().ctx({ signal: controller.signal }),
      ),
    ).rejects.toBe(reason);
    expect(target.accepted()).toBe(0);
  });

  it('dials the address it checked for every connection, whatever DNS answers later', async () => {
    // The target closes every connection after one answer, so the run reconnects hundreds of times;
    // the name resolves to 127.0.0.1 once and to the refused 127.0.0.2 ever after.
    const target = await countingTarget(200, true);
    const trap = await canary(target.port);
    const resolver = rebindingResolver(['127.0.0.1', '127.0.0.2']);
    try {
      const result = await runStress(
        `http://rebind.test:${target.port}/`,
        { connections: 4, durationSec: 1 },
        recorder().ctx({ http: loopbackEgress({ resolver }) }),
      );
      expect(target.accepted()).toBeGreaterThan(4);
      expect(result.totals.responses).toBe(target.received());
      expect(result.errors).toEqual({});
      expect(trap.connections()).toBe(0);
      expect(resolver.calls).toEqual(['rebind.test']);
    } finally {
      trap.server.closeAllConnections();
      await new Promise<void>((resolve) => trap.server.close(() => resolve()));
    }
  });

  it('refuses a name that resolves to a refused address, without connecting', async () => {
    const target = await countingTarget();
    const trap = await canary(target.port);
    const resolver = rebindingResolver(['127.0.0.2', '127.0.0.2']);
    try {
      await expect(
        runStress(
          `http://evil.test:${target.port}/`,
          { connections: 4, durationSec: 1 },
          recorder().ctx({ http: loopbackEgress({ resolver }) }),
        ),
      ).rejects.toMatchObject({
        code: 'TARGET_REFUSED',
        message: 'target refused: evil.test resolves to 127.0.0.2 is a loopback address',
      });
      expect(trap.connections()).toBe(0);
      expect(target.accepted()).toBe(0);
    } finally {
      trap.server.closeAllConnections();
      await new Promise<void>((resolve) => trap.server.close(() => resolve()));
    }
  });

  it('refuses a private target before sending anything', async () => {
    await expect(runStress('http://127.0.0.2:8080/', {}, recorder().ctx())).rejects.toMatchObject({
      code: 'TARGET_REFUSED',
      message: 'target refused: 127.0.0.2 is a loopback address',
    });
  });
});
