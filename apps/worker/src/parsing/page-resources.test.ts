import { describe, expect, it } from 'vitest';
import { fontUrls, referencedResources } from './page-resources.js';

describe('referencedResources', () => {
  it('finds scripts, stylesheets, images and fonts once each, resolved against <base>', () => {
    const html = `<base href="https://cdn.example/assets/">
      <script src="a.js"></script><script>inline()</script><script src="a.js#x"></script>
      <link rel="stylesheet" href="/s.css"><link rel="icon" href="/favicon.ico">
      <link rel="preload" as="font" href="f.woff2"><img src="i.png"><img srcset="small.png 1x, big.png 2x">
      <img src="javascript:alert(1)"><img src="http://[bad">`;
    expect(referencedResources(html, 'https://site.example/page').resources).toEqual([
      { url: 'https://cdn.example/assets/a.js', kind: 'script' },
      { url: 'https://cdn.example/s.css', kind: 'stylesheet' },
      { url: 'https://cdn.example/assets/f.woff2', kind: 'font' },
      { url: 'https://cdn.example/assets/i.png', kind: 'image' },
      { url: 'https://cdn.example/assets/small.png', kind: 'image' },
    ]);
  });

  it('finds tags in any case and layout, and nothing in a page without any', () => {
    const base = 'https://site.example/';
    expect(referencedResources('<IMG\nSRC="a.png"><Script/src="b.js"></Script>', base).resources).toEqual([
      { url: 'https://site.example/b.js', kind: 'script' },
      { url: 'https://site.example/a.png', kind: 'image' },
    ]);
    expect(referencedResources('<!doctype html><title>t</title><p>an <imgur> link', base).resources).toEqual(
      [],
    );
  });

  it('reads font files from @font-face rules only', () => {
    const css = `@font-face{src:url("/f/a.woff2") format("woff2"), url(b.woff)} .x{background:url(bg.png)}`;
    expect(fontUrls(css, 'https://s.example/css/site.css')).toEqual([
      'https://s.example/f/a.woff2',
      'https://s.example/css/b.woff',
    ]);
  });
});
