import { PAGE_MAX_ELEMENTS, loadCapped } from './html.js';
import type { PageCap } from './html.js';
import {
  canonicalCheck,
  descriptionCheck,
  h1Check,
  headingOrderCheck,
  imagesAltCheck,
  langCheck,
  openGraphCheck,
  pageSizeCheck,
  robotsMetaCheck,
  structuredDataCheck,
  titleCheck,
  twitterCardCheck,
  viewportCheck,
} from './seo-checks.js';
import type { SeoCheck } from './seo-checks.js';
import { collectLinks } from './seo-links.js';
import type { SeoLinkReport } from '@crucible/contracts';

export type { CheckStatus, SeoCheck } from './seo-checks.js';
export { PAGE_MAX_LINKS } from './seo-links.js';

/** What one page's HTML yields: its checks, its links (each once, in order) and their counts. */
export interface SeoPageAnalysis {
  checks: SeoCheck[];
  links: string[];
  linkReport: Omit<SeoLinkReport, 'checked' | 'broken'>;
  limits: { elements: PageCap; links: PageCap };
}

/**
 * The page's own checks (`seo-checks.ts`): pure, from its HTML and URL, so they can be unit-tested
 * and run in a parsing thread. At most `PAGE_MAX_ELEMENTS` elements and `PAGE_MAX_LINKS` links are
 * looked at.
 */
export function analyzeHtml(html: string, pageUrl: string): SeoPageAnalysis {
  const { $, elements } = loadCapped(html, PAGE_MAX_ELEMENTS);
  const page = new URL(pageUrl);
  const checks = [
    titleCheck($),
    descriptionCheck($),
    h1Check($),
    headingOrderCheck($),
    canonicalCheck($, page),
    openGraphCheck($),
    twitterCardCheck($),
    imagesAltCheck($),
    langCheck($),
    viewportCheck($),
    robotsMetaCheck($),
    structuredDataCheck($),
  ].filter((check): check is SeoCheck => check !== undefined);
  const { links, counts, cap } = collectLinks($, page);
  const pageSize = pageSizeCheck(elements, cap);
  if (pageSize) checks.push(pageSize);
  return { checks, links, linkReport: counts, limits: { elements, links: cap } };
}
