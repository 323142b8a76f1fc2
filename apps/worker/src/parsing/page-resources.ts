import { PAGE_MAX_ELEMENTS, scanTags } from './html.js';
import type { PageCap } from './html.js';
import type { ResourceKind } from '@crucible/contracts';

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
  // Candidates by kind of element, each kind in document order: scripts, then <link>s, then images,
  // then image sets (a page's resources are listed in that order).
  const groups: [raw: string | undefined, kind: ResourceKind][][] = [[], [], [], []];
  let baseHref: string | undefined;
  let inPicture = 0;
  limits.elements = scanTags(
    html,
    (name, attr) => {
      if (name === 'base' && baseHref === undefined && attr.href !== undefined) baseHref = attr.href;
      else if (name === 'script' && attr.src !== undefined) groups[0]!.push([attr.src, 'script']);
      else if (name === 'link' && attr.href !== undefined) {
        const kind = linkKind(attr);
        if (kind) groups[1]!.push([attr.href, kind]);
      } else if (name === 'picture') inPicture++;
      if (name === 'img' && attr.src !== undefined) groups[2]!.push([attr.src, 'image']);
      if ((name === 'img' || (name === 'source' && inPicture > 0)) && attr.srcset !== undefined) {
        // The first candidate stands for the set: a browser downloads one of them, not all.
        groups[3]!.push([attr.srcset.split(',')[0]?.trim().split(/\s+/)[0], 'image']);
      }
    },
    (name) => {
      if (name === 'picture' && inPicture > 0) inPicture--;
    },
  );
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
  for (const group of groups) for (const [raw, kind] of group) add(raw, kind);
  return { resources: found, limits };
}

/** What a `<link>` makes a browser download, by its `rel` and `as`; undefined: nothing counted. */
function linkKind(attr: Record<string, string>): ResourceKind | undefined {
  const rel = (attr.rel ?? '').toLowerCase().split(/\s+/);
  const as = (attr.as ?? '').toLowerCase();
  if (rel.includes('stylesheet')) return 'stylesheet';
  if ((rel.includes('preload') || rel.includes('prefetch')) && as === 'font') return 'font';
  if (rel.includes('preload') && as === 'script') return 'script';
  if (rel.includes('preload') && as === 'style') return 'stylesheet';
  if (rel.includes('preload') && as === 'image') return 'image';
  return undefined;
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
