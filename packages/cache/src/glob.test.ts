import { describe, expect, it } from 'vitest';
import { escapeGlob, globToRegExp } from './glob.js';

describe('globToRegExp', () => {
  const matches = (pattern: string, key: string) => globToRegExp(pattern).test(key);

  it('follows Redis glob rules', () => {
    expect(matches('test:*', 'test:1')).toBe(true);
    expect(matches('test:*', 'test:')).toBe(true);
    expect(matches('test:*', 'testing')).toBe(false);
    expect(matches('h?llo', 'hello')).toBe(true);
    expect(matches('h?llo', 'heello')).toBe(false);
    expect(matches('h[ae]llo', 'hallo')).toBe(true);
    expect(matches('h[ae]llo', 'hillo')).toBe(false);
    expect(matches('h[^e]llo', 'hallo')).toBe(true);
    expect(matches('h[^e]llo', 'hello')).toBe(false);
    expect(matches('a\\*b', 'a*b')).toBe(true);
    expect(matches('a\\*b', 'axb')).toBe(false);
    expect(matches('*', 'multi\nline')).toBe(true);
    expect(matches('a.b', 'axb')).toBe(false);
  });

  it('escapes literals so that they match only themselves', () => {
    const literal = 'p[1]*?\\:';
    expect(matches(`${escapeGlob(literal)}*`, `${literal}rest`)).toBe(true);
    expect(matches(`${escapeGlob(literal)}*`, 'p1xx\\:rest')).toBe(false);
  });
});
