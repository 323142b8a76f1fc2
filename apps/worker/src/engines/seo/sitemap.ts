import type { SeoCheck } from '@crucible/contracts';
import type { SideFile } from './side-file.js';

/** Where the sitemap is: the first one robots.txt names, else /sitemap.xml; null: not a URL. */
export function sitemapLocation(sitemaps: string[], pageUrl: URL): URL | null {
  try {
    return new URL(sitemaps[0] ?? '/sitemap.xml', pageUrl);
  } catch {
    return null;
  }
}

/** Whether `url` answered with an XML sitemap (or sitemap index), and how many entries it lists. */
export function sitemapCheck(url: URL | null, sitemap: SideFile | null): SeoCheck {
  const text = sitemap?.text ?? '';
  if (url && /<(urlset|sitemapindex)[\s>]/i.test(text)) {
    const entries = (text.match(/<loc>/gi) ?? []).length;
    return {
      id: 'sitemap',
      group: 'technical',
      status: 'pass',
      message: `sitemap with ${entries} entries`,
      value: { url: url.toString(), entries },
    };
  }
  return {
    id: 'sitemap',
    group: 'technical',
    status: 'warn',
    message:
      url && sitemap !== null && sitemap.text !== null
        ? `${url.toString()} is not a sitemap`
        : `no sitemap at ${url?.toString() ?? '(invalid URL)'}`,
    recommendation: 'Publish an XML sitemap and name it in robots.txt ("Sitemap: https://…/sitemap.xml").',
  };
}
