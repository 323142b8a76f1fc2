import type { PerformanceConfig } from '@crucible/shared';
import { EngineError, errorMessage } from '../errors.js';
import { HttpRequestError, timedGet } from '../http.js';
import type { RequestTimings, TimedResponse } from '../http.js';
import { summarize } from '../stats.js';
import type { PhaseSummary } from '../stats.js';
import type { EngineContext } from './engine.js';

/** Body bytes read per request at most: enough for any real page, bounded for the worker's memory. */
export const PERFORMANCE_MAX_BODY_BYTES = 10 * 1024 * 1024;

export type PerformanceIteration =
  | ({ iteration: number; ok: true } & TimedResponse)
  | { iteration: number; ok: false; error: string; code: string };

export type TimingPhase = keyof RequestTimings;

export interface PerformanceResult {
  url: string;
  iterations: PerformanceIteration[];
  /** Per phase over the successful requests. */
  summary: Record<TimingPhase, PhaseSummary>;
  /** Count of each HTTP status among the successful requests. */
  statusCodes: Record<string, number>;
  requests: { total: number; succeeded: number; failed: number };
  /** Of the first successful response. */
  bytes: number;
  contentEncoding: string | null;
  contentType: string | null;
  httpVersion: string;
}

const PHASES: readonly TimingPhase[] = ['dns', 'connect', 'tls', 'ttfb', 'download', 'total'];

function parseTarget(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (err) {
    throw new EngineError('INVALID_TARGET', `not an absolute URL: ${raw}`, { cause: err });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new EngineError('INVALID_TARGET', `only http and https URLs can be tested, not ${url.protocol}`);
  }
  return url;
}

/** The reason the signal was aborted with, as something a caller can `instanceof`. */
function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new EngineError('ABORTED', 'the test was aborted');
}

/**
 * Makes `iterations` timed GET requests to `url`, one after another, each on a fresh connection,
 * and reports progress after each. A failed request is recorded and the test goes on; only when
 * every request failed is there nothing to report, and it throws TARGET_UNREACHABLE.
 */
export async function runPerformance(
  url: string,
  config: PerformanceConfig,
  ctx: EngineContext,
): Promise<PerformanceResult> {
  const target = parseTarget(url);
  const count = config.iterations ?? 3;
  const timeoutMs = config.timeoutMs ?? 15_000;
  const get = ctx.http ?? timedGet;
  const iterations: PerformanceIteration[] = [];

  for (let i = 1; i <= count; i++) {
    if (ctx.signal.aborted) throw abortReason(ctx.signal);
    let iteration: PerformanceIteration;
    try {
      const response = await get(target, {
        signal: ctx.signal,
        timeoutMs,
        maxBytes: PERFORMANCE_MAX_BODY_BYTES,
      });
      iteration = { iteration: i, ok: true, ...response };
    } catch (err) {
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      const code = err instanceof HttpRequestError ? err.code : 'REQUEST_FAILED';
      iteration = { iteration: i, ok: false, error: errorMessage(err), code };
    }
    iterations.push(iteration);
    // 100 is reported by whoever stores the result, so a live 100 % always means "done".
    await ctx.progress(Math.min(99, Math.round((100 * i) / count)), 'request', {
      iteration: i,
      of: count,
      ...(iteration.ok
        ? { status: iteration.status, bytes: iteration.bytes, timings: iteration.timings }
        : { error: iteration.error }),
    });
  }

  const succeeded = iterations.filter((it): it is Extract<PerformanceIteration, { ok: true }> => it.ok);
  if (succeeded.length === 0) {
    const first = iterations[0] as Extract<PerformanceIteration, { ok: false }>;
    throw new EngineError(
      'TARGET_UNREACHABLE',
      `all ${count} requests to ${target.origin} failed; first error: ${first.error}`,
    );
  }

  const statusCodes: Record<string, number> = {};
  for (const it of succeeded) statusCodes[it.status] = (statusCodes[it.status] ?? 0) + 1;
  const first = succeeded[0]!;
  return {
    url: target.toString(),
    iterations,
    summary: Object.fromEntries(
      PHASES.map((phase) => [phase, summarize(succeeded.map((it) => it.timings[phase]))]),
    ) as Record<TimingPhase, PhaseSummary>,
    statusCodes,
    requests: { total: count, succeeded: succeeded.length, failed: count - succeeded.length },
    bytes: first.bytes,
    contentEncoding: first.contentEncoding,
    contentType: first.contentType,
    httpVersion: first.httpVersion,
  };
}
