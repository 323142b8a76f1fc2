import { describe, expect, it } from 'vitest';
import { fontUrls, referencedResources, scorePerformance } from './performance.engine.js';

describe('scorePerformance', () => {
  const good = {
    ttfbMedian: 100,
    totalMedian: 300,
    pageBytes: 100_000,
    requestCount: 10,
    compressed: true,
    allOk: true,
  };

  it('gives full marks within every threshold', () => {
    expect(scorePerformance(good).score).toBe(100);
  });

  it('scales each factor linearly between its thresholds', () => {
    const { score, factors } = scorePerformance({
      ...good,
      ttfbMedian: 600,
      totalMedian: 3000,
      compressed: false,
    });
    expect(Object.fromEntries(factors.map((f) => [f.name, f.points]))).toEqual({
      ttfb: 15,
      total: 0,
      weight: 20,
      requests: 10,
      compression: 0,
      status: 10,
    });
    expect(score).toBe(55);
    expect(
      scorePerformance({ ...good, pageBytes: 8 * 1024 * 1024, requestCount: 200, allOk: false }).score,
    ).toBe(60);
  });
});

describe('referencedResources', () => {
  it('finds scripts, stylesheets, images and fonts once each, resolved against <base>', () => {
    const html = `<base href="https://cdn.example/assets/">
      <script src="a.js"></script><script>inline()</script><script src="a.js#x"></script>
      <link rel="stylesheet" href="/s.css"><link rel="icon" href="/favicon.ico">
      <link rel="preload" as="font" href="f.woff2"><img src="i.png"><img srcset="small.png 1x, big.png 2x">
      <img src="javascript:alert(1)"><img src="http://[bad">`;
    expect(referencedResources(html, new URL('https://site.example/page'))).toEqual([
      { url: 'https://cdn.example/assets/a.js', kind: 'script' },
      { url: 'https://cdn.example/s.css', kind: 'stylesheet' },
      { url: 'https://cdn.example/assets/f.woff2', kind: 'font' },
      { url: 'https://cdn.example/assets/i.png', kind: 'image' },
      { url: 'https://cdn.example/assets/small.png', kind: 'image' },
    ]);
  });

  it('finds tags in any case and layout, and nothing in a page without any', () => {
    const base = new URL('https://site.example/');
    expect(referencedResources('<IMG\nSRC="a.png"><Script/src="b.js"></Script>', base)).toEqual([
      { url: 'https://site.example/b.js', kind: 'script' },
      { url: 'https://site.example/a.png', kind: 'image' },
    ]);
    expect(referencedResources('<!doctype html><title>t</title><p>an <imgur> link', base)).toEqual([]);
  });

  it('reads font files from @font-face rules only', () => {
    const css = `@font-face{src:url("/f/a.woff2") format("woff2"), url(b.woff)} .x{background:url(bg.png)}`;
    expect(fontUrls(css, new URL('https://s.example/css/site.css'))).toEqual([
      'https://s.example/f/a.woff2',
      'https://s.example/css/b.woff',
    ]);
  });
});
