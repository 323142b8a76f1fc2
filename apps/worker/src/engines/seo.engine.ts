import type { SeoConfig } from '@crucible/shared';
import type { Egress, EgressResponse } from '@crucible/shared/egress';
import { EngineError, abortReason, errorMessage, throwIfRefused } from '../errors.js';
import type { EngineContext } from './engine.js';
import { bodyText, checkedTarget, egressOf, header, parserOf } from './support.js';
import type { PageCap } from '../parsing/html.js';
import type { CheckStatus, LinkReport, SeoCheck } from '../parsing/seo-page.js';

const PAGE_MAX_BYTES = 5 * 1024 * 1024;
const SIDE_FILE_MAX_BYTES = 1024 * 1024;
const REQUEST_TIMEOUT_MS = 15_000;
const LINK_TIMEOUT_MS = 10_000;
const LINK_CONCURRENCY = 4;

export interface SeoResult {
  url: string;
  finalUrl: string;
  status: number;
  /** 0–100: passes count 1, warnings ½, failures 0. */
  score: number;
  counts: Record<CheckStatus, number>;
  checks: SeoCheck[];
  links: LinkReport;
  /** Every recommendation, failures first. */
  recommendations: string[];
  summary: { score: number; counts: Record<CheckStatus, number> };
  /** What of the page was looked at: its first `max` bytes, elements and links. */
  limits: { bytes: PageCap; elements: PageCap; links: PageCap };
}

/** Whether robots.txt tells every crawler (`User-agent: *`) to stay away from the whole site. */
export function disallowsAll(robotsTxt: string): boolean {
  let agents: string[] = [];
  let inRules = false;
  for (const raw of robotsTxt.split(/\r?\n/)) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^([a-z-]+)\s*:\s*(.*)$/i.exec(line);
    if (!m) continue;
    const [key, value] = [m[1]!.toLowerCase(), m[2]!.trim()];
    if (key === 'user-agent') {
      // A user-agent line after rules starts a new group.
      if (inRules) agents = [];
      inRules = false;
      agents.push(value);
    } else {
      inRules = true;
      if (key === 'disallow' && value === '/' && agents.includes('*')) return true;
    }
  }
  return false;
}

async function checkLinks(urls: string[], egress: Egress, ctx: EngineContext): Promise<LinkReport['broken']> {
  const broken: LinkReport['broken'] = [];
  const queue = [...urls];
  const worker = async () => {
    for (let url = queue.shift(); url; url = queue.shift()) {
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      try {
        let res = await egress.request(url, {
          method: 'HEAD',
          signal: ctx.signal,
          timeoutMs: LINK_TIMEOUT_MS,
          maxBytes: 0,
        });
        // Some servers refuse HEAD; what a visitor gets is the GET.
        if (res.status === 405 || res.status === 501) {
          res = await egress.request(url, { signal: ctx.signal, timeoutMs: LINK_TIMEOUT_MS, maxBytes: 1 });
        }
        if (res.status >= 400) broken.push({ url, status: res.status });
      } catch (err) {
        if (ctx.signal.aborted) throw abortReason(ctx.signal);
        broken.push({ url, status: null, error: errorMessage(err) });
      }
    }
  };
  await Promise.all(Array.from({ length: LINK_CONCURRENCY }, worker));
  return broken.sort((a, b) => urls.indexOf(a.url) - urls.indexOf(b.url));
}

async function fetchSide(egress: Egress, url: URL, ctx: EngineContext): Promise<EgressResponse | null> {
  try {
    return await egress.request(url, {
      signal: ctx.signal,
      timeoutMs: REQUEST_TIMEOUT_MS,
      maxBytes: SIDE_FILE_MAX_BYTES,
    });
  } catch (err) {
    if (ctx.signal.aborted) throw abortReason(ctx.signal);
    throwIfRefused(err);
    return null;
  }
}

/**
 * Fetches the page and analyses it as a search engine would: content, headings, social tags,
 * images, links (a bounded number checked for breakage), language, viewport, robots.txt,
 * sitemap and structured data. Each check passes, warns or fails, with a recommendation.
 */
export async function runSeo(url: string, config: SeoConfig, ctx: EngineContext): Promise<SeoResult> {
  const egress = egressOf(ctx);
  const target = checkedTarget(egress, url);
  let page: EgressResponse;
  try {
    page = await egress.request(target, {
      signal: ctx.signal,
      timeoutMs: REQUEST_TIMEOUT_MS,
      maxBytes: PAGE_MAX_BYTES,
    });
  } catch (err) {
    if (ctx.signal.aborted) throw abortReason(ctx.signal);
    throwIfRefused(err);
    throw new EngineError(
      'TARGET_UNREACHABLE',
      `could not fetch ${target.toString()}: ${errorMessage(err)}`,
      { cause: err, retryable: true },
    );
  }
  const pageUrl = new URL(page.url);
  const { checks, links, linkReport, limits } = await parserOf(ctx).run(
    { kind: 'seo-page', html: bodyText(page, PAGE_MAX_BYTES), url: page.url },
    ctx.signal,
  );
  if (page.status >= 400) {
    checks.unshift({
      id: 'status',
      group: 'technical',
      status: 'fail',
      message: `the page answered ${page.status}`,
      value: page.status,
      recommendation: 'Serve the page with a 200 status; search engines drop pages that answer 4xx/5xx.',
    });
  }
  const xRobots = header(page, 'x-robots-tag');
  if (xRobots?.toLowerCase().includes('noindex')) {
    checks.push({
      id: 'x-robots-tag',
      group: 'technical',
      status: 'warn',
      message: 'the X-Robots-Tag header says noindex',
      value: xRobots,
      recommendation: 'Remove noindex from X-Robots-Tag if this page should be found.',
    });
  }
  await ctx.progress(40, 'page', { checks: checks.length });

  const limit = config.checkLinks ?? 20;
  const broken = limit > 0 ? await checkLinks(links.slice(0, limit), egress, ctx) : [];
  const checked = Math.min(limit, links.length);
  const report: LinkReport = { ...linkReport, checked, broken };
  if (broken.length > 0) {
    checks.push({
      id: 'broken-links',
      group: 'links',
      status: 'fail',
      message: `${broken.length} of ${checked} checked links are broken`,
      value: broken,
      recommendation: 'Fix or remove links that answer 4xx/5xx or do not answer at all.',
    });
  } else {
    checks.push({
      id: 'broken-links',
      group: 'links',
      status: 'pass',
      message: `${checked} of ${links.length} links checked, none broken`,
    });
  }
  await ctx.progress(75, 'links', { checked, broken: broken.length });

  const robots = await fetchSide(egress, new URL('/robots.txt', pageUrl), ctx);
  const sitemaps: string[] = [];
  if (!robots || robots.status >= 400) {
    checks.push({
      id: 'robots-txt',
      group: 'technical',
      status: 'warn',
      message: robots ? `robots.txt answered ${robots.status}` : 'robots.txt could not be fetched',
      recommendation: 'Serve a /robots.txt (it may be as short as "User-agent: *" and a Sitemap line).',
    });
  } else {
    const text = bodyText(robots, SIDE_FILE_MAX_BYTES);
    for (const m of text.matchAll(/^\s*sitemap\s*:\s*(\S+)/gim)) sitemaps.push(m[1]!);
    if (disallowsAll(text))
      checks.push({
        id: 'robots-txt',
        group: 'technical',
        status: 'warn',
        message: 'robots.txt disallows the whole site to every crawler',
        recommendation:
          'Remove "Disallow: /" under "User-agent: *" unless the site must stay out of search engines.',
      });
    else
      checks.push({
        id: 'robots-txt',
        group: 'technical',
        status: 'pass',
        message: 'robots.txt present',
        value: { sitemaps },
      });
  }
  await ctx.progress(85, 'robots', {});

  let sitemapUrl: URL | null = null;
  try {
    sitemapUrl = new URL(sitemaps[0] ?? '/sitemap.xml', pageUrl);
  } catch {
    sitemapUrl = null;
  }
  const sitemap = sitemapUrl ? await fetchSide(egress, sitemapUrl, ctx) : null;
  const sitemapText = sitemap && sitemap.status < 400 ? bodyText(sitemap, SIDE_FILE_MAX_BYTES) : '';
  if (/<(urlset|sitemapindex)[\s>]/i.test(sitemapText)) {
    const entries = (sitemapText.match(/<loc>/gi) ?? []).length;
    checks.push({
      id: 'sitemap',
      group: 'technical',
      status: 'pass',
      message: `sitemap with ${entries} entries`,
      value: { url: sitemapUrl!.toString(), entries },
    });
  } else {
    checks.push({
      id: 'sitemap',
      group: 'technical',
      status: 'warn',
      message:
        sitemap && sitemap.status < 400
          ? `${sitemapUrl!.toString()} is not a sitemap`
          : `no sitemap at ${sitemapUrl?.toString() ?? '(invalid URL)'}`,
      recommendation: 'Publish an XML sitemap and name it in robots.txt ("Sitemap: https://…/sitemap.xml").',
    });
  }
  await ctx.progress(95, 'sitemap', {});

  const counts: Record<CheckStatus, number> = { pass: 0, warn: 0, fail: 0 };
  for (const c of checks) counts[c.status]++;
  const score = Math.round((100 * (counts.pass + counts.warn / 2)) / checks.length);
  const recommendations = [
    ...checks.filter((c) => c.status === 'fail'),
    ...checks.filter((c) => c.status === 'warn'),
  ]
    .map((c) => c.recommendation)
    .filter((r): r is string => r !== undefined);
  return {
    url: target.toString(),
    finalUrl: page.url,
    status: page.status,
    score,
    counts,
    checks,
    links: report,
    recommendations,
    summary: { score, counts },
    limits: { bytes: { max: PAGE_MAX_BYTES, reached: page.truncated }, ...limits },
  };
}
