import { PAGE_MAX_ELEMENTS, loadCapped } from './html.js';
import type { PageCap } from './html.js';

export type ResourceKind = 'script' | 'stylesheet' | 'image' | 'font';

/**
 * Resources of one page that are listed at most (a page referencing more is reported as reaching
 * the cap); far more than are ever fetched (`PERFORMANCE_MAX_RESOURCES`).
 */
export const PAGE_MAX_RESOURCES = 1_000;

export interface PageResources {
  resources: { url: string; kind: ResourceKind }[];
  limits: { elements: PageCap; resources: PageCap };
}

/**
 * The scripts, stylesheets, images and fonts an HTML document references, resolved against `base`,
 * each once, at most `maxResources` of them.
 */
export function referencedResources(
  html: string,
  base: string,
  maxResources: number = PAGE_MAX_RESOURCES,
): PageResources {
  const limits = {
    elements: { max: PAGE_MAX_ELEMENTS, reached: false },
    resources: { max: maxResources, reached: false },
  };
  // Every element looked for below starts with one of these; a page without any (a trivial one)
  // is not worth parsing.
  if (!/<(?:script|link|img|source)[\s/>]/i.test(html)) return { resources: [], limits };
  const { $, elements } = loadCapped(html);
  limits.elements = elements;
  const baseHref = $('base[href]').attr('href');
  let root = new URL(base);
  if (baseHref) {
    try {
      root = new URL(baseHref, root);
    } catch {
      // An unparsable <base> is ignored, as browsers do.
    }
  }
  const seen = new Set<string>();
  const found: { url: string; kind: ResourceKind }[] = [];
  const add = (raw: string | undefined, kind: ResourceKind) => {
    if (!raw) return;
    let url: URL;
    try {
      url = new URL(raw.trim(), root);
    } catch {
      return;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return;
    url.hash = '';
    const key = url.toString();
    if (seen.has(key)) return;
    if (found.length >= maxResources) {
      limits.resources.reached = true;
      return;
    }
    seen.add(key);
    found.push({ url: key, kind });
  };
  $('script[src]').each((_, el) => add($(el).attr('src'), 'script'));
  $('link[href]').each((_, el) => {
    const rel = ($(el).attr('rel') ?? '').toLowerCase().split(/\s+/);
    const as = ($(el).attr('as') ?? '').toLowerCase();
    if (rel.includes('stylesheet')) add($(el).attr('href'), 'stylesheet');
    else if ((rel.includes('preload') || rel.includes('prefetch')) && as === 'font')
      add($(el).attr('href'), 'font');
    else if (rel.includes('preload') && as === 'script') add($(el).attr('href'), 'script');
    else if (rel.includes('preload') && as === 'style') add($(el).attr('href'), 'stylesheet');
    else if (rel.includes('preload') && as === 'image') add($(el).attr('href'), 'image');
  });
  $('img[src]').each((_, el) => add($(el).attr('src'), 'image'));
  $('picture source[srcset], img[srcset]').each((_, el) => {
    // The first candidate stands for the set: a browser downloads one of them, not all.
    add($(el).attr('srcset')?.split(',')[0]?.trim().split(/\s+/)[0], 'image');
  });
  return { resources: found, limits };
}

/** Font files referenced by `url(...)` in a stylesheet's @font-face rules. */
export function fontUrls(css: string, base: string): string[] {
  const urls: string[] = [];
  for (const block of css.match(/@font-face\s*{[^}]*}/gi) ?? []) {
    for (const m of block.matchAll(/url\(\s*(['"]?)([^'")]+)\1\s*\)/gi)) {
      try {
        const url = new URL(m[2]!, base);
        if (url.protocol === 'http:' || url.protocol === 'https:') urls.push(url.toString());
      } catch {
        // Not a URL: nothing a browser would download either.
      }
    }
  }
  return urls;
}
