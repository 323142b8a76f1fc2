import type { CheerioAPI } from 'cheerio';
import type { SeoCheck, SeoCheckStatus } from '@crucible/contracts';
import type { PageCap } from './html.js';

/** A check and its outcome: the catalogue's result schema (catalog.ts) says what they are. */
export type { SeoCheckStatus as CheckStatus, SeoCheck };

// One pure function per check of a page's own HTML, in the order a result lists them.

export function titleCheck($: CheerioAPI): SeoCheck {
  const title = $('head > title').first().text().trim() || $('title').first().text().trim();
  if (!title) {
    return {
      id: 'title',
      group: 'content',
      status: 'fail',
      message: 'the page has no <title>',
      recommendation: 'Add a unique, descriptive <title> of 10–60 characters.',
    };
  }
  if (title.length < 10 || title.length > 60) {
    return {
      id: 'title',
      group: 'content',
      status: 'warn',
      message: `the title is ${title.length} characters long`,
      value: title,
      recommendation: 'Keep the title between 10 and 60 characters so search results show it whole.',
    };
  }
  return {
    id: 'title',
    group: 'content',
    status: 'pass',
    message: `title of ${title.length} characters`,
    value: title,
  };
}

export function descriptionCheck($: CheerioAPI): SeoCheck {
  const description = $('meta[name="description" i]').attr('content')?.trim() ?? '';
  if (!description) {
    return {
      id: 'meta-description',
      group: 'content',
      status: 'fail',
      message: 'the page has no meta description',
      recommendation: 'Add <meta name="description"> of 50–160 characters summarising the page.',
    };
  }
  if (description.length < 50 || description.length > 160) {
    return {
      id: 'meta-description',
      group: 'content',
      status: 'warn',
      message: `the meta description is ${description.length} characters long`,
      value: description,
      recommendation: 'Keep the meta description between 50 and 160 characters.',
    };
  }
  return {
    id: 'meta-description',
    group: 'content',
    status: 'pass',
    message: `meta description of ${description.length} characters`,
    value: description,
  };
}

export function h1Check($: CheerioAPI): SeoCheck {
  const h1s = $('h1')
    .map((_, el) => $(el).text().trim())
    .get();
  if (h1s.length === 0) {
    return {
      id: 'h1',
      group: 'headings',
      status: 'fail',
      message: 'the page has no <h1>',
      recommendation: 'Give the page exactly one <h1> that says what it is about.',
    };
  }
  if (h1s.length > 1) {
    return {
      id: 'h1',
      group: 'headings',
      status: 'warn',
      message: `the page has ${h1s.length} <h1> elements`,
      value: h1s,
      recommendation: 'Keep a single <h1>; use <h2>–<h6> for sections.',
    };
  }
  return { id: 'h1', group: 'headings', status: 'pass', message: 'exactly one <h1>', value: h1s[0] };
}

export function headingOrderCheck($: CheerioAPI): SeoCheck {
  const levels = $('h1, h2, h3, h4, h5, h6')
    .map((_, el) => Number((el as { tagName: string }).tagName.slice(1)))
    .get();
  const skips: string[] = [];
  for (let i = 1; i < levels.length; i++) {
    if (levels[i]! > levels[i - 1]! + 1) skips.push(`h${levels[i - 1]} → h${levels[i]}`);
  }
  if (skips.length > 0) {
    return {
      id: 'heading-order',
      group: 'headings',
      status: 'warn',
      message: `heading levels are skipped: ${skips.join(', ')}`,
      value: skips,
      recommendation: 'Nest headings without skipping a level (h2 under h1, h3 under h2).',
    };
  }
  return { id: 'heading-order', group: 'headings', status: 'pass', message: 'headings are in order' };
}

export function canonicalCheck($: CheerioAPI, page: URL): SeoCheck {
  const canonical = $('link[rel="canonical" i]').attr('href')?.trim();
  if (!canonical) {
    return {
      id: 'canonical',
      group: 'technical',
      status: 'warn',
      message: 'no canonical URL',
      recommendation: 'Add <link rel="canonical"> naming the preferred URL of this page.',
    };
  }
  let resolved: string | null = null;
  try {
    resolved = new URL(canonical, page).toString();
  } catch {
    resolved = null;
  }
  if (resolved === null) {
    return {
      id: 'canonical',
      group: 'technical',
      status: 'fail',
      message: `the canonical URL is not a URL: ${canonical}`,
      value: canonical,
      recommendation: 'Make the canonical href an absolute URL.',
    };
  }
  return {
    id: 'canonical',
    group: 'technical',
    status: 'pass',
    message: 'canonical URL present',
    value: resolved,
  };
}

/** The content of the first `<meta property=key>` or `<meta name=key>`, or ''. */
function meta($: CheerioAPI, key: string): string {
  return $(`meta[property="${key}" i], meta[name="${key}" i]`).first().attr('content')?.trim() ?? '';
}

export function openGraphCheck($: CheerioAPI): SeoCheck {
  const ogMissing = ['og:title', 'og:description', 'og:image', 'og:url'].filter((k) => !meta($, k));
  if (ogMissing.length > 0) {
    return {
      id: 'open-graph',
      group: 'social',
      status: 'warn',
      message: `Open Graph tags missing: ${ogMissing.join(', ')}`,
      value: ogMissing,
      recommendation: `Add ${ogMissing.join(', ')} so shared links show a title, text and image.`,
    };
  }
  return {
    id: 'open-graph',
    group: 'social',
    status: 'pass',
    message: 'Open Graph title, description, image and url present',
  };
}

export function twitterCardCheck($: CheerioAPI): SeoCheck {
  const twitterCard = meta($, 'twitter:card');
  if (!twitterCard) {
    return {
      id: 'twitter-card',
      group: 'social',
      status: 'warn',
      message: 'no twitter:card',
      recommendation:
        'Add <meta name="twitter:card" content="summary_large_image"> (and twitter:title/description/image if they differ from Open Graph).',
    };
  }
  return {
    id: 'twitter-card',
    group: 'social',
    status: 'pass',
    message: `twitter:card is ${twitterCard}`,
    value: twitterCard,
  };
}

export function imagesAltCheck($: CheerioAPI): SeoCheck {
  const noAlt = $('img')
    .filter((_, el) => $(el).attr('alt') === undefined)
    .map((_, el) => $(el).attr('src') ?? '(no src)')
    .get();
  const imageCount = $('img').length;
  if (noAlt.length > 0) {
    return {
      id: 'images-alt',
      group: 'images',
      status: 'fail',
      message: `${noAlt.length} of ${imageCount} images have no alt attribute`,
      value: noAlt,
      recommendation: 'Describe every image in an alt attribute (alt="" for purely decorative ones).',
    };
  }
  return {
    id: 'images-alt',
    group: 'images',
    status: 'pass',
    message: `all ${imageCount} images have an alt attribute`,
  };
}

export function langCheck($: CheerioAPI): SeoCheck {
  const lang = $('html').attr('lang')?.trim();
  if (!lang) {
    return {
      id: 'lang',
      group: 'technical',
      status: 'fail',
      message: '<html> has no lang attribute',
      recommendation: 'Declare the page language, e.g. <html lang="en">.',
    };
  }
  return { id: 'lang', group: 'technical', status: 'pass', message: `language ${lang}`, value: lang };
}

export function viewportCheck($: CheerioAPI): SeoCheck {
  const viewport = $('meta[name="viewport" i]').attr('content')?.trim();
  if (!viewport) {
    return {
      id: 'viewport',
      group: 'technical',
      status: 'fail',
      message: 'no viewport meta tag: the page is not mobile-friendly',
      recommendation: 'Add <meta name="viewport" content="width=device-width, initial-scale=1">.',
    };
  }
  return {
    id: 'viewport',
    group: 'technical',
    status: 'pass',
    message: 'viewport declared',
    value: viewport,
  };
}

/** A warning when the page asks not to be indexed; nothing otherwise. */
export function robotsMetaCheck($: CheerioAPI): SeoCheck | undefined {
  const robotsMeta = $('meta[name="robots" i]').attr('content')?.toLowerCase() ?? '';
  if (!robotsMeta.includes('noindex')) return undefined;
  return {
    id: 'robots-meta',
    group: 'technical',
    status: 'warn',
    message: 'the page asks not to be indexed (noindex)',
    value: robotsMeta,
    recommendation: 'Remove noindex if this page should appear in search results.',
  };
}

/** The schema.org types its JSON-LD blocks name, and which blocks (1-based) are not JSON. */
function jsonLdTypes(blocks: string[]): { types: string[]; invalid: number[] } {
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
  return { types, invalid };
}

export function structuredDataCheck($: CheerioAPI): SeoCheck {
  const blocks = $('script[type="application/ld+json" i]')
    .map((_, el) => $(el).text())
    .get();
  const { types, invalid } = jsonLdTypes(blocks);
  if (invalid.length > 0) {
    return {
      id: 'structured-data',
      group: 'structured-data',
      status: 'fail',
      message: `JSON-LD block ${invalid.join(', ')} is not valid JSON`,
      value: { types, invalid },
      recommendation:
        'Fix the JSON syntax of the structured data (validate it with a JSON-LD or Rich Results tester).',
    };
  }
  if (blocks.length === 0) {
    return {
      id: 'structured-data',
      group: 'structured-data',
      status: 'warn',
      message: 'no JSON-LD structured data',
      recommendation:
        'Describe the page with schema.org JSON-LD (Organization, Article, Product…) for rich results.',
    };
  }
  return {
    id: 'structured-data',
    group: 'structured-data',
    status: 'pass',
    message: `JSON-LD types: ${types.join(', ') || 'none named'}`,
    value: types,
  };
}

/** A warning when the page passed a cap, so only its first part was analysed; nothing otherwise. */
export function pageSizeCheck(elements: PageCap, links: PageCap): SeoCheck | undefined {
  if (!elements.reached && !links.reached) return undefined;
  const what = [
    elements.reached ? `more than ${elements.max} elements` : '',
    links.reached ? `more than ${links.max} links` : '',
  ].filter(Boolean);
  return {
    id: 'page-size',
    group: 'technical',
    status: 'warn',
    message: `the page has ${what.join(' and ')}: only the first were analysed`,
    value: { elements, links },
    recommendation: 'Split the page: crawlers and browsers slow down on documents this large.',
  };
}
