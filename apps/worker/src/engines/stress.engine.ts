import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import type { StressConfig } from '@crucible/shared';
import { EgressError } from '@crucible/shared/egress';
import { Client } from 'undici';
import type { Dispatcher, buildConnector } from 'undici';
import { EngineError, abortReason, errorMessage, throwIfRefused } from '../errors.js';
import { roundMs } from '../stats.js';
import type { EngineContext } from './engine.js';
import { checkedTarget, egressOf } from './support.js';

// Load comes from undici Clients, one per virtual user (so `connections` keep-alive sockets, one
// request at a time each, as autocannon opens), all dialling through the egress guard's pinned
// connector: the target is resolved and checked once and every connection goes to that address.
// Each request is a dispatch() with the user itself as handler: no promise, body stream, abort
// listener or header parsing per request, which brings the cost per request to autocannon's.
// Not autocannon's own client: it dials by host name with its own sockets (pinning would mean an
// IP literal plus a Host header, and it forces certificate checks off), reconnects at once in a
// tight loop when the target refuses, and holds one fixed number of connections (no ramp, steps or
// spike). Cancelling destroys every Client, which ends the requests in flight at once.

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
 * moments of an abort: every connection is destroyed, which ends the requests in flight at once.
 */
export async function runStress(
  url: string,
  config: StressConfig,
  ctx: EngineContext,
  limits: StressLimits = DEFAULT_STRESS_LIMITS,
): Promise<StressResult> {
  const egress = egressOf(ctx);
  const target = checkedTarget(egress, url);
  // Resolve and check the target once, then dial that very address for every connection: a private
  // target is refused before anything opens, and no later DNS answer (rebinding) is ever dialled.
  const connecting = new AbortController();
  // Each connection being opened listens on it: up to one per virtual user at once.
  setMaxListeners(limits.maxConnections + 10, connecting.signal);
  let connect: buildConnector.connector;
  try {
    ({ connect } = await egress.pinnedConnector(target, { signal: connecting.signal }));
  } catch (err) {
    throwIfRefused(err);
    throw new EngineError('TARGET_UNREACHABLE', errorMessage(err), { cause: err, retryable: true });
  }
  if (ctx.signal.aborted) throw abortReason(ctx.signal);

  const mode = config.mode ?? 'load';
  const askedConnections = config.connections ?? 10;
  const askedRamp = config.rampUpSec ?? 0;
  const askedDuration = config.durationSec ?? 10;
  const connections = Math.min(askedConnections, limits.maxConnections);
  const totalSec = Math.min(askedRamp + askedDuration, limits.maxDurationSec);
  const rampUpSec = Math.min(askedRamp, totalSec);
  const capped = connections < askedConnections || totalSec < askedRamp + askedDuration;
  const method = (config.method ?? (config.body === undefined ? 'GET' : 'POST')) as Dispatcher.HttpMethod;
  const headers: Record<string, string> = {
    'user-agent': 'Crucible/0.1 (+stress test)',
    ...(config.headers ?? {}),
  };
  const path = `${target.pathname}${target.search}`;
  const rate = config.rate ?? null;

  // The load runs on a plain per-user loop of undici's dispatch API (see the note at the top): no
  // promise, body stream or abort listener per request, one histogram record, a status counter.
  const bodyBuffer = config.body === undefined ? undefined : Buffer.from(config.body);
  // Headers as a flat [name, value, …] list: undici walks it without a key array per request.
  const request: Dispatcher.DispatchOptions = {
    method,
    path,
    headers: Object.entries(headers).flat(),
    body: bodyBuffer,
  };

  const overall = histogram();
  const second = histogram();
  const statusCodes: Record<string, number> = {};
  const errors: Record<string, number> = {};
  /** Responses by status code this second (index = code), folded into records at each tick. */
  const secondStatus = new Uint32Array(1000);
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
  /** No new request starts once set; `aborted` also ends those in flight, uncounted. */
  let stopping = false;
  let aborted = false;
  let allowed = activeUsers(mode, connections, 0, totalSec, rampUpSec);
  let nextSlot = started;
  let inFlight = 0;
  let onIdle: (() => void) | null = null;

  interface User extends Dispatcher.DispatchHandler {
    index: number;
    client: Client;
    startedAt: number;
    status: number;
    /** Waiting for the schedule to allow it (ramp-up, stress steps, spike). */
    parked: boolean;
    timer: NodeJS.Timeout | undefined;
  }

  const settled = () => {
    inFlight--;
    if (stopping && inFlight === 0) onIdle?.();
  };
  const send = (user: User) => {
    user.timer = undefined;
    if (stopping) return;
    inFlight++;
    user.startedAt = performance.now();
    user.client.dispatch(request, user);
  };
  const next = (user: User) => {
    if (stopping) return;
    if (user.index >= allowed) {
      user.parked = true;
      return;
    }
    if (rate !== null) {
      // One global schedule of request start times, `1000 / rate` ms apart.
      const now = performance.now();
      const slot = Math.max(now, nextSlot);
      nextSlot = slot + 1000 / rate;
      if (slot > now) {
        user.timer = setTimeout(send, slot - now, user);
        return;
      }
    }
    send(user);
  };
  // Legacy (onConnect/onHeaders/onData/onComplete/onError) handler methods: the interface undici's
  // own core calls, so no wrapper and no parsing of the response headers, which are never read.
  const users: User[] = Array.from({ length: connections }, (_, index) => {
    const user: User = {
      index,
      // One connection per virtual user, as autocannon does: `connections` sockets, each keep-alive.
      // With pipelining 1 undici writes the next request one event-loop turn after the answer (it
      // first checks the idle socket for stray bytes). Pipelining 2 would write it from onComplete,
      // as autocannon does, but gave no more req/s in the benchmark (README, "Targets missed").
      client: new Client(target.origin, { connect, pipelining: 1 }),
      startedAt: 0,
      status: 0,
      parked: false,
      timer: undefined,
      onConnect() {},
      onHeaders(statusCode) {
        user.status = statusCode;
        return true;
      },
      onData(chunk) {
        bytes += chunk.length;
        return true;
      },
      onComplete() {
        second.recordValue(Math.max(1, Math.round((performance.now() - user.startedAt) * 1000)));
        responses++;
        secondRequests++;
        const code = user.status;
        if (code < 1000) secondStatus[code]!++;
        if (code >= 400) failed++;
        else succeeded++;
        settled();
        next(user);
      },
      onError(err) {
        settled();
        if (aborted) return;
        failed++;
        transportErrors++;
        secondRequests++;
        const kind = errorKind(err);
        increment(errors, kind);
        increment(secondErrors, kind);
        if (!stopping) user.timer = setTimeout(next, ERROR_BACKOFF_MS, user);
      },
    };
    return user;
  });

  const closeAll = () => Promise.all(users.map((u) => u.client.destroy().catch(() => {})));
  const stop = () => {
    stopping = true;
    for (const u of users) clearTimeout(u.timer);
  };
  let wake: () => void = () => {};
  const ended = new Promise<void>((resolve) => (wake = resolve));
  /** Stops the load at once: no new request, the connections destroyed with what is in flight. */
  const abort = (reason: unknown) => {
    if (aborted) return;
    aborted = true;
    stop();
    connecting.abort(reason);
    void closeAll();
    onIdle?.();
    wake();
  };
  const onAbort = () => abort(ctx.signal.reason);
  ctx.signal.addEventListener('abort', onAbort, { once: true });

  /** This second's status codes as a record (and into the totals); HTTP errors by status. */
  const foldStatus = () => {
    const codes: Record<string, number> = {};
    const httpErrors: Record<string, number> = {};
    for (let code = 0; code < secondStatus.length; code++) {
      const n = secondStatus[code]!;
      if (n === 0) continue;
      codes[code] = n;
      statusCodes[code] = (statusCodes[code] ?? 0) + n;
      if (code >= 400) {
        httpErrors[`HTTP ${code}`] = n;
        errors[`HTTP ${code}`] = (errors[`HTTP ${code}`] ?? 0) + n;
      }
    }
    secondStatus.fill(0);
    return { codes, httpErrors };
  };

  let reportError: unknown = null;
  let reporting: Promise<void> = Promise.resolve();
  const tick = () => {
    const at = elapsedSec();
    const index = series.length + 1;
    const { codes, httpErrors } = foldStatus();
    const errorsByKind = { ...httpErrors, ...secondErrors };
    const errorsThisSecond = Object.values(errorsByKind).reduce((a, b) => a + b, 0);
    const point: StressSecond = {
      second: index,
      requests: secondRequests,
      rps: secondRequests,
      p50: second.totalCount ? toMs(second.getValueAtPercentile(50)) : 0,
      p95: second.totalCount ? toMs(second.getValueAtPercentile(95)) : 0,
      p99: second.totalCount ? toMs(second.getValueAtPercentile(99)) : 0,
      errors: errorsThisSecond,
      errorsByKind,
      statusCodes: codes,
      connections: users.reduce((n, u) => n + (u.client.stats.connected ? 1 : 0), 0),
      active: Math.min(allowed, connections),
    };
    series.push(point);
    overall.add(second);
    second.reset();
    secondRequests = 0;
    secondErrors = {};
    schedule(at);
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
        abort(err);
      }
    });
  };
  /** Lets the schedule's users in (or holds them back) as time goes on. */
  const schedule = (at: number) => {
    allowed = activeUsers(mode, connections, at, totalSec, rampUpSec);
    if (stopping) return;
    for (const u of users) {
      if (u.parked && u.index < allowed) {
        u.parked = false;
        next(u);
      }
    }
  };
  const ramp = setInterval(() => schedule(elapsedSec()), 100);
  const ticker = setInterval(tick, 1000);
  const timeUp = setTimeout(wake, totalSec * 1000);

  try {
    for (const u of users) next(u);
    await ended;
    stop();
    clearInterval(ramp);
    clearInterval(ticker);
    if (!aborted && inFlight > 0) {
      // Let the requests in flight finish, so the count matches what the target saw.
      const idle = new Promise<void>((resolve) => (onIdle = resolve));
      const drainTimer = setTimeout(
        () => abort(new EngineError('ABORTED', 'requests still in flight after the test')),
        DRAIN_MS,
      );
      await idle;
      clearTimeout(drainTimer);
    }
    await reporting;
  } finally {
    stop();
    clearTimeout(timeUp);
    clearInterval(ramp);
    clearInterval(ticker);
    ctx.signal.removeEventListener('abort', onAbort);
    connecting.abort();
    await closeAll();
  }
  overall.add(second);
  foldStatus();
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
