import { describe, expect, it } from 'vitest';
import { exceedsJsonDepth } from './json-depth.js';

const nested = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;

describe('exceedsJsonDepth', () => {
  it('accepts nesting up to the limit and refuses one level more', () => {
    expect(exceedsJsonDepth(nested(64), 64)).toBe(false);
    expect(exceedsJsonDepth(nested(65), 64)).toBe(true);
    expect(exceedsJsonDepth(`{"a":${nested(3)},"b":{"c":{}}}`, 4)).toBe(false);
    expect(exceedsJsonDepth(`{"a":{"b":${nested(3)}}}`, 4)).toBe(true);
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    expect(exceedsJsonDepth(JSON.stringify({ s: '[[[[{{{{', t: 'say \\"[[[[\\" ' }), 1)).toBe(false);
  });
});
