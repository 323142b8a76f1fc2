import type {
  PerformanceResource,
  PerformanceResources,
  PerformanceResult,
  ResourceKind,
} from '@crucible/contracts';
import type { Egress, EgressResponse } from '@crucible/egress';
import { decodeBody } from '@crucible/egress';
import { abortReason, errorMessage } from '../../errors.js';
import { PAGE_MAX_ELEMENTS } from '../../parsing/html.js';
import { PAGE_MAX_RESOURCES } from '../../parsing/page-resources.js';
import type { EngineContext } from '../engine.js';
import { header, parserOf } from '../support.js';

/** Resources referenced by the page that are fetched at most (the rest are counted, not sized). */
export const PERFORMANCE_MAX_RESOURCES = 60;
/** Resources fetched at once. */
const RESOURCE_CONCURRENCY = 4;
/** Bytes read per resource at most. */
const RESOURCE_MAX_BYTES = 5 * 1024 * 1024;

const KINDS: readonly ResourceKind[] = ['script', 'stylesheet', 'image', 'font'];

type ResourceRef = { url: string; kind: ResourceKind };

/** The fonts a stylesheet loads, parsed off the event loop. */
async function stylesheetFonts(res: EgressResponse, ctx: EngineContext): Promise<string[]> {
  const css = decodeBody(res.body, res.headers['content-encoding'], RESOURCE_MAX_BYTES).toString('utf8');
  return parserOf(ctx).run({ kind: 'stylesheet-fonts', css, url: res.url }, ctx.signal);
}

/**
 * Fetches `list` a few at a time, and the fonts its stylesheets load (each URL once), up to
 * {@link PERFORMANCE_MAX_RESOURCES}. A failed resource is recorded with its error.
 */
async function fetchResources(
  list: ResourceRef[],
  egress: Egress,
  ctx: EngineContext,
  timeoutMs: number,
): Promise<PerformanceResource[]> {
  const results: PerformanceResource[] = [];
  const queue = [...list];
  const seen = new Set(list.map((r) => r.url));
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      if (results.length >= PERFORMANCE_MAX_RESOURCES) return;
      const item: PerformanceResource = {
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
        item.contentEncoding = header(res, 'content-encoding');
        item.durationMs = res.timings.total;
        if (next.kind === 'stylesheet' && res.status < 400) {
          for (const font of await stylesheetFonts(res, ctx)) {
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

/** Counts and bytes by kind and in total; `referenced` counts the resources not fetched too. */
function summarizeResources(referenced: number, all: PerformanceResource[]): PerformanceResources {
  const byKind = Object.fromEntries(
    KINDS.map((kind) => {
      const of = all.filter((r) => r.kind === kind);
      const fetched = of.filter((r) => r.bytes !== null);
      return [
        kind,
        { count: of.length, fetched: fetched.length, bytes: fetched.reduce((s, r) => s + r.bytes!, 0) },
      ];
    }),
  ) as PerformanceResources['byKind'];
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

export interface PageResources {
  resources: PerformanceResources;
  limits: PerformanceResult['limits'];
}

/**
 * The resources an HTML document (decoded) references, fetched and summed up (progress once they are);
 * a document that is not HTML references none.
 */
export async function measureResources(
  contentType: string | null,
  document: Buffer,
  finalUrl: string,
  egress: Egress,
  ctx: EngineContext,
  timeoutMs: number,
): Promise<PageResources> {
  const none: PageResources = {
    resources: summarizeResources(0, []),
    limits: {
      elements: { max: PAGE_MAX_ELEMENTS, reached: false },
      resources: { max: PAGE_MAX_RESOURCES, reached: false },
    },
  };
  if (!(contentType ?? '').toLowerCase().includes('html')) return none;
  const page = await parserOf(ctx).run(
    { kind: 'page-resources', html: document.toString('utf8'), url: finalUrl },
    ctx.signal,
  );
  const referenced = page.resources;
  if (referenced.length === 0) return { resources: none.resources, limits: page.limits };
  const items = await fetchResources(referenced.slice(0, PERFORMANCE_MAX_RESOURCES), egress, ctx, timeoutMs);
  const resources = summarizeResources(referenced.length, items);
  await ctx.progress(99, 'resources', { count: resources.total.count, bytes: resources.total.bytes });
  return { resources, limits: page.limits };
}
