import { loadCapped } from './html.js';
import type { PageCap } from './html.js';
import { PAGE_MAX_RESOURCES } from './page-resources.js';

export interface MixedContent {
  found: { url: string; element: string; active: boolean }[];
  limits: { elements: PageCap; resources: PageCap };
}

/**
 * Plain-HTTP resources of an https page: active ones (scripts, styles, frames) are blocked by
 * browsers. At most `PAGE_MAX_RESOURCES` are reported.
 */
export function mixedContent(html: string, pageUrl: string): MixedContent {
  const { $, elements } = loadCapped(html);
  const found: MixedContent['found'] = [];
  const resources: PageCap = { max: PAGE_MAX_RESOURCES, reached: false };
  const scan = (selector: string, attr: string, active: boolean) =>
    $(selector).each((_, el) => {
      const raw = $(el).attr(attr)?.trim();
      if (!raw) return;
      try {
        const url = new URL(raw, pageUrl);
        if (url.protocol !== 'http:') return;
        if (found.length >= resources.max) resources.reached = true;
        else found.push({ url: url.toString(), element: (el as { tagName: string }).tagName, active });
      } catch {
        // Not a URL: nothing is loaded.
      }
    });
  scan('script[src]', 'src', true);
  scan('link[rel~="stylesheet" i][href]', 'href', true);
  scan('iframe[src]', 'src', true);
  scan('form[action]', 'action', true);
  scan('img[src]', 'src', false);
  scan('audio[src], video[src], source[src]', 'src', false);
  return { found, limits: { elements, resources } };
}
