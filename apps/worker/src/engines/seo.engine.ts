import type { SeoConfig, SeoResult } from '@crucible/contracts';
import type { Egress, EgressResponse } from '@crucible/egress';
import { EngineError, abortReason, errorMessage, throwIfRefused } from '../errors.js';
import type { EngineContext } from './engine.js';
import { bodyText, checkedTarget, egressOf, header, parserOf } from './support.js';
import { brokenLinksCheck, checkLinks } from './seo/links.js';
import { statusCheck, xRobotsCheck } from './seo/page.js';
import { seoResult } from './seo/result.js';
import { robotsCheck } from './seo/robots.js';
import { fetchSideFile } from './seo/side-file.js';
import { sitemapCheck, sitemapLocation } from './seo/sitemap.js';

const PAGE_MAX_BYTES = 5 * 1024 * 1024;
const REQUEST_TIMEOUT_MS = 15_000;

/** The page itself: without it there is nothing to analyse, so failing to fetch it is worth a retry. */
async function fetchPage(egress: Egress, target: URL, ctx: EngineContext): Promise<EgressResponse> {
  try {
    return await egress.request(target, {
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
}

/**
 * Fetches the page and analyses it as a search engine would: content, headings, social tags,
 * images, links (a bounded number checked for breakage), language, viewport, robots.txt,
 * sitemap and structured data. Each check passes, warns or fails, with a recommendation.
 */
export async function runSeo(url: string, config: SeoConfig, ctx: EngineContext): Promise<SeoResult> {
  const egress = egressOf(ctx);
  const target = checkedTarget(egress, url);
  const page = await fetchPage(egress, target, ctx);
  const pageUrl = new URL(page.url);
  const { checks, links, linkReport, limits } = await parserOf(ctx).run(
    { kind: 'seo-page', html: bodyText(page, PAGE_MAX_BYTES), url: page.url },
    ctx.signal,
  );
  const status = statusCheck(page.status);
  if (status) checks.unshift(status);
  const noindex = xRobotsCheck(header(page, 'x-robots-tag'));
  if (noindex) checks.push(noindex);
  await ctx.progress(40, 'page', { checks: checks.length });

  const limit = config.checkLinks ?? 20;
  const broken = limit > 0 ? await checkLinks(links.slice(0, limit), egress, ctx) : [];
  const checked = Math.min(limit, links.length);
  checks.push(brokenLinksCheck(broken, checked, links.length));
  await ctx.progress(75, 'links', { checked, broken: broken.length });

  const robots = robotsCheck(await fetchSideFile(egress, new URL('/robots.txt', pageUrl), ctx));
  checks.push(robots.check);
  await ctx.progress(85, 'robots', {});

  const sitemapUrl = sitemapLocation(robots.sitemaps, pageUrl);
  const sitemap = sitemapUrl ? await fetchSideFile(egress, sitemapUrl, ctx) : null;
  checks.push(sitemapCheck(sitemapUrl, sitemap));
  await ctx.progress(95, 'sitemap', {});

  return seoResult({
    url: target.toString(),
    finalUrl: page.url,
    status: page.status,
    checks,
    links: { ...linkReport, checked, broken },
    limits: { bytes: { max: PAGE_MAX_BYTES, reached: page.truncated }, ...limits },
  });
}
