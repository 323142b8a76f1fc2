import { describe, expect, it } from 'vitest';
import { loadCapped } from './html.js';

describe('loadCapped', () => {
  const html =
    '<!doctype html><p>one</p><!-- <p>not a tag</p> --><p>two</p><script>"<p>"</script><p>three</p>';

  it('parses the whole document when it has at most the cap of elements', () => {
    const { $, elements } = loadCapped(html, 4);
    expect(
      $('p')
        .map((_, el) => $(el).text())
        .get(),
    ).toEqual(['one', 'two', 'three']);
    expect(elements).toEqual({ max: 4, reached: false });
  });

  it('cuts the document before the first element past the cap', () => {
    const { $, elements } = loadCapped(html, 3);
    expect(
      $('p')
        .map((_, el) => $(el).text())
        .get(),
    ).toEqual(['one', 'two']);
    expect($('script').text()).toBe('"<p>"');
    expect(elements).toEqual({ max: 3, reached: true });
  });
});
