import type { PerformanceConfig } from '@crucible/shared';
import { Egress, decodeBody } from '@crucible/shared/egress';
import type { RequestTimings } from '@crucible/shared/egress';
import { EngineError, abortReason, errorMessage, throwIfRefused } from '../errors.js';
import { roundMs, summarize } from '../stats.js';
import type { PhaseSummary } from '../stats.js';
import type { EngineContext } from './engine.js';
import { parserOf } from './support.js';
import { PAGE_MAX_ELEMENTS } from '../parsing/html.js';
import type { PageCap } from '../parsing/html.js';
import { PAGE_MAX_RESOURCES } from '../parsing/page-resources.js';
import type { ResourceKind } from '../parsing/page-resources.js';

/** Body bytes read per request at most: enough for any real page, bounded for the worker's memory. */
export const PERFORMANCE_MAX_BODY_BYTES = 10 * 1024 * 1024;
/** Resources referenced by the page that are fetched at most (the rest are counted, not sized). */
export const PERFORMANCE_MAX_RESOURCES = 60;
/** Resources fetched at once. */
const RESOURCE_CONCURRENCY = 4;
/** Bytes read per resource at most. */
const RESOURCE_MAX_BYTES = 5 * 1024 * 1024;

export type PerformanceIteration =
  | {
      iteration: number;
      ok: true;
      status: number;
      /** Body bytes on the wire (compressed when `contentEncoding` is set). */
      bytes: number;
      truncated: boolean;
      contentEncoding: string | null;
      contentType: string | null;
      httpVersion: string;
      remoteAddress: string;
      redirects: number;
      timings: RequestTimings;
    }
  | { iteration: number; ok: false; error: string; code: string };

export type TimingPhase = keyof RequestTimings;

export interface ResourceResult {
  url: string;
  kind: ResourceKind;
  status: number | null;
  /** Bytes on the wire, null when it could not be fetched. */
  bytes: number | null;
  contentEncoding: string | null;
  durationMs: number | null;
  error?: string;
}

export interface ResourceSummary {
  /** Per kind: how many the page references, how many were fetched, their bytes on the wire. */
  byKind: Record<ResourceKind, { count: number; fetched: number; bytes: number }>;
  total: { count: number; fetched: number; bytes: number; failed: number };
  items: ResourceResult[];
}

export interface ScoreFactor {
  name: string;
  points: number;
  max: number;
  detail: string;
}

export interface PerformanceResult {
  url: string;
  /** The URL that answered after redirects (of the first successful request). */
  finalUrl: string;
  iterations: PerformanceIteration[];
  /** Per phase over the successful requests: min, max, mean, median, p95. */
  summary: Record<TimingPhase, PhaseSummary>;
  /** Count of each HTTP status among the successful requests. */
  statusCodes: Record<string, number>;
  requests: { total: number; succeeded: number; failed: number };
  /** Of the first successful response, on the wire. */
  bytes: number;
  /** Of the first successful response once decompressed. */
  decodedBytes: number;
  contentEncoding: string | null;
  contentType: string | null;
  httpVersion: string;
  resources: ResourceSummary;
  score: number;
  scoreFactors: ScoreFactor[];
  /** What of the document was looked at for resources: its first `max` elements and resources. */
  limits: { elements: PageCap; resources: PageCap };
}

const PHASES: readonly TimingPhase[] = ['dns', 'connect', 'tls', 'ttfb', 'download', 'total'];
const KINDS: readonly ResourceKind[] = ['script', 'stylesheet', 'image', 'font'];

function header(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Scales `value` linearly from full points at `good` down to 0 at `poor`. */
function linear(value: number, good: number, poor: number, max: number): number {
  if (value <= good) return max;
  if (value >= poor) return 0;
  return Math.round((max * (poor - value)) / (poor - good));
}

/**
 * The 0–100 score and how it was reached (README "performance" documents the same table):
 * median TTFB ≤ 200 ms → 30, ≥ 1000 ms → 0; median total ≤ 500 ms → 20, ≥ 3000 ms → 0;
 * page weight (document + resources) ≤ 500 KiB → 20, ≥ 4 MiB → 0; requests (document +
 * resources) ≤ 25 → 10, ≥ 100 → 0; text document compressed (or under 1 KiB) → 10;
 * every request answered 2xx/3xx → 10. Linear in between.
 */
export function scorePerformance(input: {
  ttfbMedian: number;
  totalMedian: number;
  pageBytes: number;
  requestCount: number;
  compressed: boolean;
  allOk: boolean;
}): { score: number; factors: ScoreFactor[] } {
  const KiB = 1024;
  const factors: ScoreFactor[] = [
    {
      name: 'ttfb',
      max: 30,
      points: linear(input.ttfbMedian, 200, 1000, 30),
      detail: `median time to first byte ${input.ttfbMedian} ms (full marks ≤ 200 ms, none ≥ 1000 ms)`,
    },
    {
      name: 'total',
      max: 20,
      points: linear(input.totalMedian, 500, 3000, 20),
      detail: `median document time ${input.totalMedian} ms (full marks ≤ 500 ms, none ≥ 3000 ms)`,
    },
    {
      name: 'weight',
      max: 20,
      points: linear(input.pageBytes, 500 * KiB, 4096 * KiB, 20),
      detail: `page weight ${Math.round(input.pageBytes / KiB)} KiB (full marks ≤ 500 KiB, none ≥ 4 MiB)`,
    },
    {
      name: 'requests',
      max: 10,
      points: linear(input.requestCount, 25, 100, 10),
      detail: `${input.requestCount} requests for the page (full marks ≤ 25, none ≥ 100)`,
    },
    {
      name: 'compression',
      max: 10,
      points: input.compressed ? 10 : 0,
      detail: input.compressed
        ? 'the document is compressed (or too small to matter)'
        : 'the document is sent uncompressed: enable gzip or brotli',
    },
    {
      name: 'status',
      max: 10,
      points: input.allOk ? 10 : 0,
      detail: input.allOk ? 'every request answered 2xx/3xx' : 'some requests failed or answered 4xx/5xx',
    },
  ];
  return { score: factors.reduce((sum, f) => sum + f.points, 0), factors };
}

async function fetchResources(
  list: { url: string; kind: ResourceKind }[],
  egress: Egress,
  ctx: EngineContext,
  timeoutMs: number,
): Promise<ResourceResult[]> {
  const results: ResourceResult[] = [];
  const queue = [...list];
  const seen = new Set(list.map((r) => r.url));
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      if (results.length >= PERFORMANCE_MAX_RESOURCES) return;
      const item: ResourceResult = {
        url: next.url,
        kind: next.kind,
        status: null,
        bytes: null,
        contentEncoding: null,
        durationMs: null,
      };
      results.push(item);
      try {
        const res = await egress.request(next.url, {
          signal: ctx.signal,
          timeoutMs,
          maxBytes: RESOURCE_MAX_BYTES,
        });
        item.status = res.status;
        item.bytes = res.body.length;
        item.contentEncoding = header(res.headers['content-encoding']);
        item.durationMs = res.timings.total;
        if (next.kind === 'stylesheet' && res.status < 400) {
          const css = decodeBody(res.body, res.headers['content-encoding'], RESOURCE_MAX_BYTES).toString(
            'utf8',
          );
          const fonts = await parserOf(ctx).run({ kind: 'stylesheet-fonts', css, url: res.url }, ctx.signal);
          for (const font of fonts) {
            if (seen.has(font)) continue;
            seen.add(font);
            queue.push({ url: font, kind: 'font' });
          }
        }
      } catch (err) {
        if (ctx.signal.aborted) throw abortReason(ctx.signal);
        item.error = errorMessage(err);
      }
    }
  };
  await Promise.all(Array.from({ length: RESOURCE_CONCURRENCY }, worker));
  return results;
}

function summarizeResources(referenced: number, all: ResourceResult[]): ResourceSummary {
  const byKind = Object.fromEntries(
    KINDS.map((kind) => {
      const of = all.filter((r) => r.kind === kind);
      const fetched = of.filter((r) => r.bytes !== null);
      return [
        kind,
        { count: of.length, fetched: fetched.length, bytes: fetched.reduce((s, r) => s + r.bytes!, 0) },
      ];
    }),
  ) as ResourceSummary['byKind'];
  const fetched = all.filter((r) => r.bytes !== null);
  return {
    byKind,
    total: {
      count: Math.max(referenced, all.length),
      fetched: fetched.length,
      bytes: fetched.reduce((s, r) => s + r.bytes!, 0),
      failed: all.filter((r) => r.error !== undefined || (r.status !== null && r.status >= 400)).length,
    },
    items: all,
  };
}

/**
 * Makes `iterations` timed GET requests to `url`, one after another, each on fresh connections
 * (so each pays DNS, connect and TLS, like a first visit), then fetches the resources the page
 * references. A failed request is recorded and the test goes on; only when every request failed
 * is there nothing to report (TARGET_UNREACHABLE). A refused target fails at once.
 */
export async function runPerformance(
  url: string,
  config: PerformanceConfig,
  ctx: EngineContext,
): Promise<PerformanceResult> {
  const egress = ctx.http ?? new Egress();
  let target: URL;
  try {
    target = egress.checkUrl(url);
  } catch (err) {
    throwIfRefused(err);
    throw err;
  }
  const count = config.iterations ?? 3;
  const timeoutMs = config.timeoutMs ?? 15_000;
  const iterations: PerformanceIteration[] = [];
  let firstBody: { body: Buffer; finalUrl: string; encoding: string | string[] | undefined } | undefined;

  for (let i = 1; i <= count; i++) {
    if (ctx.signal.aborted) throw abortReason(ctx.signal);
    let iteration: PerformanceIteration;
    try {
      const res = await egress.request(target, {
        signal: ctx.signal,
        timeoutMs,
        maxBytes: PERFORMANCE_MAX_BODY_BYTES,
        http2: true,
      });
      firstBody ??= { body: res.body, finalUrl: res.url, encoding: res.headers['content-encoding'] };
      iteration = {
        iteration: i,
        ok: true,
        status: res.status,
        bytes: res.body.length,
        truncated: res.truncated,
        contentEncoding: header(res.headers['content-encoding']),
        contentType: header(res.headers['content-type']),
        httpVersion: res.httpVersion,
        remoteAddress: res.connection.remoteAddress,
        redirects: res.redirects.length,
        timings: res.timings,
      };
    } catch (err) {
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      throwIfRefused(err);
      const code = (err as { code?: unknown }).code;
      iteration = {
        iteration: i,
        ok: false,
        error: errorMessage(err),
        code: typeof code === 'string' ? code : 'REQUEST_FAILED',
      };
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

  type Ok = Extract<PerformanceIteration, { ok: true }>;
  const succeeded = iterations.filter((it): it is Ok => it.ok);
  if (succeeded.length === 0 || !firstBody) {
    const first = iterations[0] as Extract<PerformanceIteration, { ok: false }>;
    throw new EngineError(
      'TARGET_UNREACHABLE',
      `all ${count} requests to ${target.toString()} failed; first error: ${first.error}`,
    );
  }
  const first = succeeded[0]!;
  const decoded = decodeBody(firstBody.body, firstBody.encoding, PERFORMANCE_MAX_BODY_BYTES);

  let resources: ResourceSummary = summarizeResources(0, []);
  let limits: PerformanceResult['limits'] = {
    elements: { max: PAGE_MAX_ELEMENTS, reached: false },
    resources: { max: PAGE_MAX_RESOURCES, reached: false },
  };
  if ((first.contentType ?? '').toLowerCase().includes('html')) {
    const page = await parserOf(ctx).run(
      { kind: 'page-resources', html: decoded.toString('utf8'), url: firstBody.finalUrl },
      ctx.signal,
    );
    limits = page.limits;
    const referenced = page.resources;
    if (referenced.length > 0) {
      const items = await fetchResources(
        referenced.slice(0, PERFORMANCE_MAX_RESOURCES),
        egress,
        ctx,
        timeoutMs,
      );
      resources = summarizeResources(referenced.length, items);
      await ctx.progress(99, 'resources', { count: resources.total.count, bytes: resources.total.bytes });
    }
  }

  const statusCodes: Record<string, number> = {};
  for (const it of succeeded) statusCodes[it.status] = (statusCodes[it.status] ?? 0) + 1;
  const summary = Object.fromEntries(
    PHASES.map((phase) => [phase, summarize(succeeded.map((it) => it.timings[phase]))]),
  ) as Record<TimingPhase, PhaseSummary>;
  const isText = /html|text|json|javascript|xml|css/i.test(first.contentType ?? '');
  const { score, factors } = scorePerformance({
    ttfbMedian: roundMs(summary.ttfb.median),
    totalMedian: roundMs(summary.total.median),
    pageBytes: first.bytes + resources.total.bytes,
    requestCount: 1 + resources.total.count,
    compressed: first.contentEncoding !== null || !isText || decoded.length < 1024,
    allOk:
      succeeded.length === count && succeeded.every((it) => it.status < 400) && resources.total.failed === 0,
  });
  return {
    url: target.toString(),
    finalUrl: firstBody.finalUrl,
    iterations,
    summary,
    statusCodes,
    requests: { total: count, succeeded: succeeded.length, failed: count - succeeded.length },
    bytes: first.bytes,
    decodedBytes: decoded.length,
    contentEncoding: first.contentEncoding,
    contentType: first.contentType,
    httpVersion: first.httpVersion,
    resources,
    score,
    scoreFactors: factors,
    limits,
  };
}
