import type { CheerioAPI } from 'cheerio';
import type { PageCap } from './html.js';

/** `<a href>` elements of one page that are looked at (counted, deduplicated) at most. */
export const PAGE_MAX_LINKS = 10_000;

/** A page's http(s) links, each once (without fragment) in document order, and their counts. */
export interface PageLinks {
  links: string[];
  counts: { total: number; internal: number; external: number; nofollow: number };
  cap: PageCap;
}

/** The links of the page at `page`: its first `PAGE_MAX_LINKS` `<a href>` elements. */
export function collectLinks($: CheerioAPI, page: URL): PageLinks {
  const anchors = $('a[href]');
  const cap: PageCap = { max: PAGE_MAX_LINKS, reached: anchors.length > PAGE_MAX_LINKS };
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
  return { links: [...links], counts: { total, internal, external, nofollow }, cap };
}
