import * as cheerio from 'cheerio';
import type { SeoConfig } from '@crucible/shared';
import type { Egress, EgressResponse } from '@crucible/shared/egress';
import { EngineError, abortReason, errorMessage, throwIfRefused } from '../errors.js';
import type { EngineContext } from './engine.js';
import { bodyText, checkedTarget, egressOf, header } from './support.js';

const PAGE_MAX_BYTES = 5 * 1024 * 1024;
const SIDE_FILE_MAX_BYTES = 1024 * 1024;
const REQUEST_TIMEOUT_MS = 15_000;
const LINK_TIMEOUT_MS = 10_000;
const LINK_CONCURRENCY = 4;

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface SeoCheck {
  id: string;
  group: 'content' | 'headings' | 'social' | 'images' | 'links' | 'technical' | 'structured-data';
  status: CheckStatus;
  message: string;
  /** What to do about it (absent when the check passed). */
  recommendation?: string;
  /** The evidence: the value found, the offending elements. */
  value?: unknown;
}

export interface LinkReport {
  total: number;
  internal: number;
  external: number;
  nofollow: number;
  /** Links whose status was checked (at most `checkLinks`). */
  checked: number;
  broken: { url: string; status: number | null; error?: string }[];
}

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
}

/** The page's own checks: pure, from its HTML and URL, so they can be unit-tested. */
export function analyzeHtml(
  html: string,
  pageUrl: URL,
): { checks: SeoCheck[]; links: string[]; linkReport: Omit<LinkReport, 'checked' | 'broken'> } {
  const $ = cheerio.load(html);
  const checks: SeoCheck[] = [];
  const add = (check: SeoCheck) => checks.push(check);

  const title = $('head > title').first().text().trim() || $('title').first().text().trim();
  if (!title) {
    add({
      id: 'title',
      group: 'content',
      status: 'fail',
      message: 'the page has no <title>',
      recommendation: 'Add a unique, descriptive <title> of 10–60 characters.',
    });
  } else if (title.length < 10 || title.length > 60) {
    add({
      id: 'title',
      group: 'content',
      status: 'warn',
      message: `the title is ${title.length} characters long`,
      value: title,
      recommendation: 'Keep the title between 10 and 60 characters so search results show it whole.',
    });
  } else
    add({
      id: 'title',
      group: 'content',
      status: 'pass',
      message: `title of ${title.length} characters`,
      value: title,
    });

  const description = $('meta[name="description" i]').attr('content')?.trim() ?? '';
  if (!description) {
    add({
      id: 'meta-description',
      group: 'content',
      status: 'fail',
      message: 'the page has no meta description',
      recommendation: 'Add <meta name="description"> of 50–160 characters summarising the page.',
    });
  } else if (description.length < 50 || description.length > 160) {
    add({
      id: 'meta-description',
      group: 'content',
      status: 'warn',
      message: `the meta description is ${description.length} characters long`,
      value: description,
      recommendation: 'Keep the meta description between 50 and 160 characters.',
    });
  } else
    add({
      id: 'meta-description',
      group: 'content',
      status: 'pass',
      message: `meta description of ${description.length} characters`,
      value: description,
    });

  const h1s = $('h1')
    .map((_, el) => $(el).text().trim())
    .get();
  if (h1s.length === 0)
    add({
      id: 'h1',
      group: 'headings',
      status: 'fail',
      message: 'the page has no <h1>',
      recommendation: 'Give the page exactly one <h1> that says what it is about.',
    });
  else if (h1s.length > 1)
    add({
      id: 'h1',
      group: 'headings',
      status: 'warn',
      message: `the page has ${h1s.length} <h1> elements`,
      value: h1s,
      recommendation: 'Keep a single <h1>; use <h2>–<h6> for sections.',
    });
  else add({ id: 'h1', group: 'headings', status: 'pass', message: 'exactly one <h1>', value: h1s[0] });

  const levels = $('h1, h2, h3, h4, h5, h6')
    .map((_, el) => Number((el as { tagName: string }).tagName.slice(1)))
    .get();
  const skips: string[] = [];
  for (let i = 1; i < levels.length; i++) {
    if (levels[i]! > levels[i - 1]! + 1) skips.push(`h${levels[i - 1]} → h${levels[i]}`);
  }
  if (skips.length > 0)
    add({
      id: 'heading-order',
      group: 'headings',
      status: 'warn',
      message: `heading levels are skipped: ${skips.join(', ')}`,
      value: skips,
      recommendation: 'Nest headings without skipping a level (h2 under h1, h3 under h2).',
    });
  else add({ id: 'heading-order', group: 'headings', status: 'pass', message: 'headings are in order' });

  const canonical = $('link[rel="canonical" i]').attr('href')?.trim();
  if (!canonical)
    add({
      id: 'canonical',
      group: 'technical',
      status: 'warn',
      message: 'no canonical URL',
      recommendation: 'Add <link rel="canonical"> naming the preferred URL of this page.',
    });
  else {
    let resolved: string | null = null;
    try {
      resolved = new URL(canonical, pageUrl).toString();
    } catch {
      resolved = null;
    }
    if (resolved === null)
      add({
        id: 'canonical',
        group: 'technical',
        status: 'fail',
        message: `the canonical URL is not a URL: ${canonical}`,
        value: canonical,
        recommendation: 'Make the canonical href an absolute URL.',
      });
    else
      add({
        id: 'canonical',
        group: 'technical',
        status: 'pass',
        message: 'canonical URL present',
        value: resolved,
      });
  }

  const meta = (key: string) =>
    $(`meta[property="${key}" i], meta[name="${key}" i]`).first().attr('content')?.trim() ?? '';
  const ogMissing = ['og:title', 'og:description', 'og:image', 'og:url'].filter((k) => !meta(k));
  if (ogMissing.length > 0)
    add({
      id: 'open-graph',
      group: 'social',
      status: 'warn',
      message: `Open Graph tags missing: ${ogMissing.join(', ')}`,
      value: ogMissing,
      recommendation: `Add ${ogMissing.join(', ')} so shared links show a title, text and image.`,
    });
  else
    add({
      id: 'open-graph',
      group: 'social',
      status: 'pass',
      message: 'Open Graph title, description, image and url present',
    });
  const twitterCard = meta('twitter:card');
  if (!twitterCard)
    add({
      id: 'twitter-card',
      group: 'social',
      status: 'warn',
      message: 'no twitter:card',
      recommendation:
        'Add <meta name="twitter:card" content="summary_large_image"> (and twitter:title/description/image if they differ from Open Graph).',
    });
  else
    add({
      id: 'twitter-card',
      group: 'social',
      status: 'pass',
      message: `twitter:card is ${twitterCard}`,
      value: twitterCard,
    });

  const noAlt = $('img')
    .filter((_, el) => $(el).attr('alt') === undefined)
    .map((_, el) => $(el).attr('src') ?? '(no src)')
    .get();
  const imageCount = $('img').length;
  if (noAlt.length > 0)
    add({
      id: 'images-alt',
      group: 'images',
      status: 'fail',
      message: `${noAlt.length} of ${imageCount} images have no alt attribute`,
      value: noAlt,
      recommendation: 'Describe every image in an alt attribute (alt="" for purely decorative ones).',
    });
  else
    add({
      id: 'images-alt',
      group: 'images',
      status: 'pass',
      message: `all ${imageCount} images have an alt attribute`,
    });

  const lang = $('html').attr('lang')?.trim();
  if (!lang)
    add({
      id: 'lang',
      group: 'technical',
      status: 'fail',
      message: '<html> has no lang attribute',
      recommendation: 'Declare the page language, e.g. <html lang="en">.',
    });
  else add({ id: 'lang', group: 'technical', status: 'pass', message: `language ${lang}`, value: lang });

  const viewport = $('meta[name="viewport" i]').attr('content')?.trim();
  if (!viewport)
    add({
      id: 'viewport',
      group: 'technical',
      status: 'fail',
      message: 'no viewport meta tag: the page is not mobile-friendly',
      recommendation: 'Add <meta name="viewport" content="width=device-width, initial-scale=1">.',
    });
  else
    add({
      id: 'viewport',
      group: 'technical',
      status: 'pass',
      message: 'viewport declared',
      value: viewport,
    });

  const robotsMeta = $('meta[name="robots" i]').attr('content')?.toLowerCase() ?? '';
  if (robotsMeta.includes('noindex'))
    add({
      id: 'robots-meta',
      group: 'technical',
      status: 'warn',
      message: 'the page asks not to be indexed (noindex)',
      value: robotsMeta,
      recommendation: 'Remove noindex if this page should appear in search results.',
    });

  const blocks = $('script[type="application/ld+json" i]')
    .map((_, el) => $(el).text())
    .get();
  const types: string[] = [];
  const invalid: number[] = [];
  blocks.forEach((text, i) => {
    try {
      const data = JSON.parse(text) as unknown;
      const items = Array.isArray(data) ? data : [data];
      for (const item of items) {
        const graph = (item as { '@graph'?: unknown[] })?.['@graph'];
        for (const node of Array.isArray(graph) ? graph : [item]) {
          const type = (node as { '@type'?: unknown })?.['@type'];
          if (typeof type === 'string') types.push(type);
          else if (Array.isArray(type)) types.push(...type.filter((t): t is string => typeof t === 'string'));
        }
      }
    } catch {
      invalid.push(i + 1);
    }
  });
  if (invalid.length > 0)
    add({
      id: 'structured-data',
      group: 'structured-data',
      status: 'fail',
      message: `JSON-LD block ${invalid.join(', ')} is not valid JSON`,
      value: { types, invalid },
      recommendation:
        'Fix the JSON syntax of the structured data (validate it with a JSON-LD or Rich Results tester).',
    });
  else if (blocks.length === 0)
    add({
      id: 'structured-data',
      group: 'structured-data',
      status: 'warn',
      message: 'no JSON-LD structured data',
      recommendation:
        'Describe the page with schema.org JSON-LD (Organization, Article, Product…) for rich results.',
    });
  else
    add({
      id: 'structured-data',
      group: 'structured-data',
      status: 'pass',
      message: `JSON-LD types: ${types.join(', ') || 'none named'}`,
      value: types,
    });

  const links: string[] = [];
  let internal = 0;
  let external = 0;
  let nofollow = 0;
  let total = 0;
  $('a[href]').each((_, el) => {
    const href = $(el).attr('href')!.trim();
    let url: URL;
    try {
      url = new URL(href, pageUrl);
    } catch {
      return;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return;
    total++;
    if (url.host === pageUrl.host) internal++;
    else external++;
    if (($(el).attr('rel') ?? '').toLowerCase().split(/\s+/).includes('nofollow')) nofollow++;
    url.hash = '';
    if (!links.includes(url.toString())) links.push(url.toString());
  });
  return { checks, links, linkReport: { total, internal, external, nofollow } };
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
  const { checks, links, linkReport } = analyzeHtml(bodyText(page, PAGE_MAX_BYTES), pageUrl);
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
  };
}
