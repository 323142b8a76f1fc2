import { describe, expect, it } from 'vitest';
import { PAGE_MAX_ELEMENTS } from './html.js';
import { PAGE_MAX_LINKS, analyzeHtml } from './seo-page.js';

/** A page of `count` distinct links, each about 84 bytes, as a hostile or careless site serves. */
function linkPage(count: number): string {
  const links = Array.from({ length: count }, (_, i) => `<a href="/p/${i}">link number ${i}</a>`);
  return `<!doctype html><html lang="en"><head><title>A page of many links</title></head><body>${links.join('\n')}</body></html>`;
}

describe('analyzeHtml', () => {
  it('counts links once each, in document order, whatever the fragment', () => {
    const { links, linkReport } = analyzeHtml(
      '<a href="/a">a</a><a href="/b#x">b</a><a href="/a#y">a again</a><a href="https://x.example/">x</a>',
      'https://site.example/',
    );
    expect(links).toEqual(['https://site.example/a', 'https://site.example/b', 'https://x.example/']);
    expect(linkReport).toEqual({ total: 4, internal: 3, external: 1, nofollow: 0 });
  });

  it('looks at a bounded part of a page of 100,000 links and says so', () => {
    const { links, linkReport, limits, checks } = analyzeHtml(linkPage(100_000), 'https://site.example/');
    expect(limits).toEqual({
      elements: { max: PAGE_MAX_ELEMENTS, reached: true },
      links: { max: PAGE_MAX_LINKS, reached: true },
    });
    expect(links).toHaveLength(PAGE_MAX_LINKS);
    expect(links.at(-1)).toBe(`https://site.example/p/${PAGE_MAX_LINKS - 1}`);
    expect(linkReport).toEqual({ total: PAGE_MAX_LINKS, internal: PAGE_MAX_LINKS, external: 0, nofollow: 0 });
    expect(checks.find((c) => c.id === 'page-size')).toMatchObject({
      status: 'warn',
      message:
        'the page has more than 50000 elements and more than 10000 links: only the first were analysed',
    });
  });

  it('has no page-size check for a page within the caps', () => {
    const { limits, checks } = analyzeHtml(linkPage(100), 'https://site.example/');
    expect(limits.elements.reached || limits.links.reached).toBe(false);
    expect(checks.map((c) => c.id)).not.toContain('page-size');
  });
});
