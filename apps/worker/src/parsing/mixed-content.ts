import { scanTags } from './html.js';
import type { PageCap } from './html.js';
import { PAGE_MAX_RESOURCES } from './page-resources.js';

export interface MixedContent {
  found: { url: string; element: string; active: boolean }[];
  limits: { elements: PageCap; resources: PageCap };
}

/** The attribute that makes each element load something, and whether a browser blocks it on https. */
const LOADERS: {
  element: string;
  attribute: string;
  active: boolean;
  when?: (attr: Record<string, string>) => boolean;
}[] = [
  { element: 'script', attribute: 'src', active: true },
  {
    element: 'link',
    attribute: 'href',
    active: true,
    when: (attr) => (attr.rel ?? '').toLowerCase().split(/\s+/).includes('stylesheet'),
  },
  { element: 'iframe', attribute: 'src', active: true },
  { element: 'form', attribute: 'action', active: true },
  { element: 'img', attribute: 'src', active: false },
  { element: 'audio', attribute: 'src', active: false },
  { element: 'video', attribute: 'src', active: false },
  { element: 'source', attribute: 'src', active: false },
];

/**
 * Plain-HTTP resources of an https page: active ones (scripts, styles, frames, forms) are blocked
 * by browsers. Listed by kind of element, each kind in document order; at most
 * `PAGE_MAX_RESOURCES` of them.
 */
export function mixedContent(html: string, pageUrl: string): MixedContent {
  const byLoader: MixedContent['found'][] = LOADERS.map(() => []);
  const resources: PageCap = { max: PAGE_MAX_RESOURCES, reached: false };
  let count = 0;
  const elements = scanTags(html, (name, attr) => {
    const i = LOADERS.findIndex((l) => l.element === name);
    const loader = LOADERS[i];
    if (!loader || (loader.when && !loader.when(attr))) return;
    const raw = attr[loader.attribute]?.trim();
    if (!raw) return;
    let url: URL;
    try {
      url = new URL(raw, pageUrl);
    } catch {
      return; // Not a URL: nothing is loaded.
    }
    if (url.protocol !== 'http:') return;
    if (count >= resources.max) resources.reached = true;
    else {
      count++;
      byLoader[i]!.push({ url: url.toString(), element: name, active: loader.active });
    }
  });
  return { found: byLoader.flat(), limits: { elements, resources } };
}
