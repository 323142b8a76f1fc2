import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import type { StressConfig } from '@crucible/shared';
import { EgressError } from '@crucible/shared/egress';
import type { Dispatcher } from 'undici';
import { EngineError, abortReason, errorMessage, throwIfRefused } from '../errors.js';
import { roundMs } from '../stats.js';
import type { EngineContext } from './engine.js';
import { checkedTarget, egressOf } from './support.js';

// Load is generated with an undici Pool from the egress guard rather than autocannon: autocannon
// dials with its own net/tls sockets, so the guard's check-and-pin of every connection could not
// be enforced, and its cancel is not immediate. A pool gives both, and keeps-alive like a browser.

/** Server-side bounds: whatever a user asks for, one test never exceeds them. */
export interface StressLimits {
  /** @defaultValue 200 (`STRESS_MAX_CONNECTIONS`) */
  maxConnections: number;
  /** Ramp-up included. @defaultValue 300 (`STRESS_MAX_DURATION_SEC`) */
  maxDurationSec: number;
}

export const DEFAULT_STRESS_LIMITS: StressLimits = { maxConnections: 200, maxDurationSec: 300 };

/** How long requests still in flight when the time is up may take to finish. */
const DRAIN_MS = 5_000;
/** Pause of a virtual user after a transport error, so a dead target is not hammered in a tight loop. */
const ERROR_BACKOFF_MS = 50;

export interface LatencySummary {
  min: number;
  mean: number;
  stddev: number;
  p50: number;
  p75: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

export interface StressSecond {
  second: number;
  /** Responses and transport errors completed during this second. */
  requests: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  errors: number;
  errorsByKind: Record<string, number>;
  statusCodes: Record<string, number>;
  /** Open connections at the end of the second. */
  connections: number;
  /** Virtual users the schedule allowed at the end of the second. */
  active: number;
}

export interface ThresholdVerdict {
  name: 'p95Ms' | 'p99Ms' | 'errorRatePct' | 'minRps';
  limit: number;
  actual: number;
  passed: boolean;
}

export interface StressResult {
  url: string;
  mode: 'load' | 'stress' | 'spike';
  method: string;
  /** What ran after the server-side limits; `capped` when they cut the request. */
  limits: {
    connections: number;
    durationSec: number;
    rampUpSec: number;
    rate: number | null;
    capped: boolean;
  };
  totals: {
    /** Every request completed: responses plus transport errors. */
    requests: number;
    responses: number;
    /** 2xx and 3xx. */
    succeeded: number;
    /** Transport errors and 4xx/5xx. */
    failed: number;
    bytes: number;
    durationSec: number;
    rps: number;
  };
  latency: LatencySummary | null;
  statusCodes: Record<string, number>;
  errors: Record<string, number>;
  errorRatePct: number;
  series: StressSecond[];
  thresholds: ThresholdVerdict[];
  /** Every threshold held (true when none was set). */
  passed: boolean;
  summary: { requests: number; rps: number; p95: number | null; errorRatePct: number; passed: boolean };
}

function histogram(): Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

const toMs = (us: number) => roundMs(us / 1000);

function latencyOf(h: Histogram): LatencySummary | null {
  if (h.totalCount === 0) return null;
  return {
    min: toMs(h.minNonZeroValue),
    mean: toMs(h.mean),
    stddev: toMs(h.stdDeviation),
    p50: toMs(h.getValueAtPercentile(50)),
    p75: toMs(h.getValueAtPercentile(75)),
    p90: toMs(h.getValueAtPercentile(90)),
    p95: toMs(h.getValueAtPercentile(95)),
    p99: toMs(h.getValueAtPercentile(99)),
    p999: toMs(h.getValueAtPercentile(99.9)),
    max: toMs(h.maxValue),
  };
}

/**
 * Virtual users allowed at `t` seconds into a run of `totalSec` with `n` connections:
 * load ramps 1 → n over `rampUpSec` then holds; stress climbs in 5 equal steps of n/5;
 * spike holds n/10 for the first 40 %, n for the next 20 %, n/10 again for the rest.
 */
export function activeUsers(
  mode: StressResult['mode'],
  n: number,
  t: number,
  totalSec: number,
  rampUpSec: number,
): number {
  if (mode === 'stress')
    return Math.max(1, Math.ceil((n * Math.min(5, Math.floor((5 * t) / totalSec) + 1)) / 5));
  if (mode === 'spike') {
    const base = Math.max(1, Math.ceil(n / 10));
    const phase = t / totalSec;
    return phase >= 0.4 && phase < 0.6 ? n : base;
  }
  if (rampUpSec > 0 && t < rampUpSec) return Math.max(1, Math.ceil((n * t) / rampUpSec));
  return n;
}

function errorKind(err: unknown): string {
  if (err instanceof EgressError) return err.code;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'REQUEST_FAILED';
}

function increment(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

/**
 * Generates load on one URL for the configured time and reports every second (rps, latency
 * percentiles, errors, status codes, connections) on `progress` and `stressStats`. Stops within
 * moments of an abort: the pool is destroyed, which ends every in-flight request at once.
 */
export async function runStress(
  url: string,
  config: StressConfig,
  ctx: EngineContext,
  limits: StressLimits = DEFAULT_STRESS_LIMITS,
): Promise<StressResult> {
  const egress = egressOf(ctx);
  const target = checkedTarget(egress, url);
  try {
    // Refuse a private target before opening anything; every new connection is checked again.
    await egress.resolve(target.hostname.replace(/^\[(.*)\]$/, '$1'));
  } catch (err) {
    throwIfRefused(err);
    throw new EngineError('TARGET_UNREACHABLE', errorMessage(err), { cause: err, retryable: true });
  }

  const mode = config.mode ?? 'load';
  const askedConnections = config.connections ?? 10;
  const askedRamp = config.rampUpSec ?? 0;
  const askedDuration = config.durationSec ?? 10;
  const connections = Math.min(askedConnections, limits.maxConnections);
  const totalSec = Math.min(askedRamp + askedDuration, limits.maxDurationSec);
  const rampUpSec = Math.min(askedRamp, totalSec);
  const capped = connections < askedConnections || totalSec < askedRamp + askedDuration;
  const method = (config.method ?? (config.body === undefined ? 'GET' : 'POST')) as Dispatcher.HttpMethod;
  const headers = { 'user-agent': 'Crucible/0.1 (+stress test)', ...(config.headers ?? {}) };
  const path = `${target.pathname}${target.search}`;
  const rate = config.rate ?? null;

  const run = new AbortController();
  // Every virtual user's request and pause listens on it: more than the default 10 is expected.
  setMaxListeners(2 * connections + 10, run.signal);
  const onAbort = () => run.abort(ctx.signal.reason);
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const pool = egress.pool(target, { connections, signal: run.signal });

  const overall = histogram();
  const second = histogram();
  const statusCodes: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let secondStatus: Record<string, number> = {};
  let secondErrors: Record<string, number> = {};
  let responses = 0;
  let succeeded = 0;
  let failed = 0;
  let transportErrors = 0;
  let bytes = 0;
  let secondRequests = 0;
  const series: StressSecond[] = [];

  const started = performance.now();
  const elapsedSec = () => (performance.now() - started) / 1000;
  let stopping = false;
  let allowed = activeUsers(mode, connections, 0, totalSec, rampUpSec);
  let nextSlot = started;
  /** Sleeps, but wakes at once when the run is aborted. */
  const pause = (ms: number) => sleep(ms, undefined, { signal: run.signal }).catch(() => {});

  const user = async (index: number) => {
    while (!stopping) {
      if (index >= allowed) {
        await pause(50);
        continue;
      }
      if (rate !== null) {
        // One global schedule of request start times, `1000 / rate` ms apart.
        const now = performance.now();
        const slot = Math.max(now, nextSlot);
        nextSlot = slot + 1000 / rate;
        if (slot > now) await pause(slot - now);
        if (stopping) return;
      }
      const t0 = performance.now();
      try {
        const res = await pool.request({ method, path, headers, body: config.body, signal: run.signal });
        for await (const chunk of res.body as AsyncIterable<Buffer>) bytes += chunk.length;
        const us = Math.max(1, Math.round((performance.now() - t0) * 1000));
        overall.recordValue(us);
        second.recordValue(us);
        responses++;
        secondRequests++;
        increment(statusCodes, String(res.statusCode));
        increment(secondStatus, String(res.statusCode));
        if (res.statusCode >= 400) {
          failed++;
          increment(errors, `HTTP ${res.statusCode}`);
          increment(secondErrors, `HTTP ${res.statusCode}`);
        } else succeeded++;
      } catch (err) {
        if (run.signal.aborted) return;
        failed++;
        transportErrors++;
        secondRequests++;
        increment(errors, errorKind(err));
        increment(secondErrors, errorKind(err));
        await pause(ERROR_BACKOFF_MS);
      }
    }
  };

  let reportError: unknown = null;
  let reporting: Promise<void> = Promise.resolve();
  const tick = () => {
    const at = elapsedSec();
    const index = series.length + 1;
    const errorsThisSecond = Object.values(secondErrors).reduce((a, b) => a + b, 0);
    const point: StressSecond = {
      second: index,
      requests: secondRequests,
      rps: secondRequests,
      p50: second.totalCount ? toMs(second.getValueAtPercentile(50)) : 0,
      p95: second.totalCount ? toMs(second.getValueAtPercentile(95)) : 0,
      p99: second.totalCount ? toMs(second.getValueAtPercentile(99)) : 0,
      errors: errorsThisSecond,
      errorsByKind: secondErrors,
      statusCodes: secondStatus,
      connections: pool.stats.connected,
      active: Math.min(allowed, connections),
    };
    series.push(point);
    second.reset();
    secondRequests = 0;
    secondStatus = {};
    secondErrors = {};
    allowed = activeUsers(mode, connections, at, totalSec, rampUpSec);
    const live = {
      ...point,
      elapsedSec: Math.round(at),
      durationSec: totalSec,
      totalRequests: responses + transportErrors,
    };
    // Reports go out in order, never holding up the load; the first failure ends the run.
    reporting = reporting.then(async () => {
      try {
        await ctx.progress(Math.min(99, Math.round((100 * at) / totalSec)), 'load', live);
        await ctx.stressStats?.(live);
      } catch (err) {
        reportError ??= err;
        run.abort(err);
      }
    });
  };
  const ramp = setInterval(() => {
    allowed = activeUsers(mode, connections, elapsedSec(), totalSec, rampUpSec);
  }, 100);
  const ticker = setInterval(tick, 1000);
  const users = Array.from({ length: connections }, (_, i) => user(i));

  try {
    await Promise.race([pause(totalSec * 1000), Promise.all(users)]);
    stopping = true;
    clearInterval(ramp);
    clearInterval(ticker);
    if (!run.signal.aborted) {
      // Let the requests in flight finish, so the count matches what the target saw.
      const drained = await Promise.race([
        Promise.all(users).then(() => true),
        sleep(DRAIN_MS).then(() => false),
      ]);
      if (!drained) run.abort(new EngineError('ABORTED', 'requests still in flight after the test'));
    }
    await Promise.all(users);
    await reporting;
  } finally {
    stopping = true;
    clearInterval(ramp);
    clearInterval(ticker);
    ctx.signal.removeEventListener('abort', onAbort);
    await pool.destroy().catch(() => {});
  }
  if (ctx.signal.aborted) throw abortReason(ctx.signal);
  if (reportError) throw reportError;

  const durationSec = roundMs(elapsedSec());
  const requests = responses + transportErrors;
  const errorRatePct = requests === 0 ? 0 : roundMs((100 * failed) / requests);
  const latency = latencyOf(overall);
  const rps = roundMs(requests / Math.max(durationSec, 0.001));
  const t = config.thresholds ?? {};
  const thresholds: ThresholdVerdict[] = [];
  const verdict = (
    name: ThresholdVerdict['name'],
    limit: number | undefined,
    actual: number,
    ok: (a: number, l: number) => boolean,
  ) => {
    if (limit !== undefined) thresholds.push({ name, limit, actual, passed: ok(actual, limit) });
  };
  verdict('p95Ms', t.p95Ms, latency?.p95 ?? Infinity, (a, l) => a <= l);
  verdict('p99Ms', t.p99Ms, latency?.p99 ?? Infinity, (a, l) => a <= l);
  verdict('errorRatePct', t.errorRatePct, errorRatePct, (a, l) => a <= l);
  verdict('minRps', t.minRps, rps, (a, l) => a >= l);
  const passed = thresholds.every((v) => v.passed);
  return {
    url: target.toString(),
    mode,
    method,
    limits: { connections, durationSec: totalSec, rampUpSec, rate, capped },
    totals: { requests, responses, succeeded, failed, bytes, durationSec, rps },
    latency,
    statusCodes,
    errors,
    errorRatePct,
    series,
    thresholds,
    passed,
    summary: { requests, rps, p95: latency?.p95 ?? null, errorRatePct, passed },
  };
}
