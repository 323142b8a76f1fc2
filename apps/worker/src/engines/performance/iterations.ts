import type { PerformanceIteration } from '@crucible/contracts';
import type { Egress } from '@crucible/egress';
import { abortReason, errorMessage, throwIfRefused } from '../../errors.js';
import type { EngineContext } from '../engine.js';
import { header } from '../support.js';

/** Body bytes read per request at most: enough for any real page, bounded for the worker's memory. */
export const PERFORMANCE_MAX_BODY_BYTES = 10 * 1024 * 1024;

export type OkIteration = Extract<PerformanceIteration, { ok: true }>;
export type FailedIteration = Extract<PerformanceIteration, { ok: false }>;

/** The body of the first request that succeeded: the page whose resources and compression are judged. */
export interface PageDocument {
  body: Buffer;
  finalUrl: string;
  encoding: string | string[] | undefined;
}

/** One timed request: what it measured, or why it failed (a refused target or an abort end the run). */
async function timedRequest(
  egress: Egress,
  target: URL,
  i: number,
  timeoutMs: number,
  ctx: EngineContext,
): Promise<{ iteration: PerformanceIteration; document: PageDocument | null }> {
  try {
    const res = await egress.request(target, {
      signal: ctx.signal,
      timeoutMs,
      maxBytes: PERFORMANCE_MAX_BODY_BYTES,
      http2: true,
    });
    const iteration: OkIteration = {
      iteration: i,
      ok: true,
      status: res.status,
      bytes: res.body.length,
      truncated: res.truncated,
      contentEncoding: header(res, 'content-encoding'),
      contentType: header(res, 'content-type'),
      httpVersion: res.httpVersion,
      remoteAddress: res.connection.remoteAddress,
      redirects: res.redirects.length,
      timings: res.timings,
    };
    return {
      iteration,
      document: { body: res.body, finalUrl: res.url, encoding: res.headers['content-encoding'] },
    };
  } catch (err) {
    if (ctx.signal.aborted) throw abortReason(ctx.signal);
    throwIfRefused(err);
    const code = (err as { code?: unknown }).code;
    return {
      iteration: {
        iteration: i,
        ok: false,
        error: errorMessage(err),
        code: typeof code === 'string' ? code : 'REQUEST_FAILED',
      },
      document: null,
    };
  }
}

/** What a live subscriber is shown after each request. */
function iterationProgress(iteration: PerformanceIteration, count: number): object {
  return {
    iteration: iteration.iteration,
    of: count,
    ...(iteration.ok
      ? { status: iteration.status, bytes: iteration.bytes, timings: iteration.timings }
      : { error: iteration.error }),
  };
}

/**
 * `count` timed requests one after another, progress after each, and the first document that
 * arrived (undefined: every request failed).
 */
export async function timeRequests(
  egress: Egress,
  target: URL,
  count: number,
  timeoutMs: number,
  ctx: EngineContext,
): Promise<{ iterations: PerformanceIteration[]; document: PageDocument | undefined }> {
  const iterations: PerformanceIteration[] = [];
  let document: PageDocument | undefined;
  for (let i = 1; i <= count; i++) {
    if (ctx.signal.aborted) throw abortReason(ctx.signal);
    const timed = await timedRequest(egress, target, i, timeoutMs, ctx);
    document ??= timed.document ?? undefined;
    iterations.push(timed.iteration);
    // 100 is reported by whoever stores the result, so a live 100 % always means "done".
    await ctx.progress(
      Math.min(99, Math.round((100 * i) / count)),
      'request',
      iterationProgress(timed.iteration, count),
    );
  }
  return { iterations, document };
}
