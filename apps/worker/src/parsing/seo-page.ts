import { PAGE_MAX_ELEMENTS, loadCapped } from './html.js';
import type { PageCap } from './html.js';

/** `<a href>` elements of one page that are looked at (counted, deduplicated) at most. */
export const PAGE_MAX_LINKS = 10_000;

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

/** What one page's HTML yields: its checks, its links (each once, in order) and their counts. */
export interface SeoPageAnalysis {
  checks: SeoCheck[];
  links: string[];
  linkReport: Omit<LinkReport, 'checked' | 'broken'>;
  limits: { elements: PageCap; links: PageCap };
}

/**
 * The page's own checks: pure, from its HTML and URL, so they can be unit-tested and run in a
 * parsing thread. At most `PAGE_MAX_ELEMENTS` elements and `PAGE_MAX_LINKS` links are looked at.
 */
export function analyzeHtml(html: string, pageUrl: string): SeoPageAnalysis {
  const { $, elements } = loadCapped(html, PAGE_MAX_ELEMENTS);
  const page = new URL(pageUrl);
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
      resolved = new URL(canonical, page).toString();
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

  const anchors = $('a[href]');
  const linkCap: PageCap = { max: PAGE_MAX_LINKS, reached: anchors.length > PAGE_MAX_LINKS };
  // A Set keeps the first-seen order and finds a repeat in constant time (a list scan per link was
  // quadratic: minutes of blocked event loop for a page of 100,000 links).
  const links = new Set<string>();
  let internal = 0;
  let external = 0;
  let nofollow = 0;
  let total = 0;
  anchors.slice(0, PAGE_MAX_LINKS).each((_, el) => {
    const href = $(el).attr('href')!.trim();
    let url: URL;
    try {
      url = new URL(href, page);
    } catch {
      return;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return;
    total++;
    if (url.host === page.host) internal++;
    else external++;
    if (($(el).attr('rel') ?? '').toLowerCase().split(/\s+/).includes('nofollow')) nofollow++;
    url.hash = '';
    links.add(url.toString());
  });
  if (elements.reached || linkCap.reached) {
    const what = [
      elements.reached ? `more than ${elements.max} elements` : '',
      linkCap.reached ? `more than ${linkCap.max} links` : '',
    ].filter(Boolean);
    add({
      id: 'page-size',
      group: 'technical',
      status: 'warn',
      message: `the page has ${what.join(' and ')}: only the first were analysed`,
      value: { elements, links: linkCap },
      recommendation: 'Split the page: crawlers and browsers slow down on documents this large.',
    });
  }
  return {
    checks,
    links: [...links],
    linkReport: { total, internal, external, nofollow },
    limits: { elements, links: linkCap },
  };
}
