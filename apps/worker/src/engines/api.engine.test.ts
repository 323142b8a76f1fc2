import { describe, expect, it } from 'vitest';
import { interpolate, jsonPath } from './api.engine.js';

describe('jsonPath', () => {
  const data = { a: { b: [{ c: 1 }, { c: 2 }] }, s: 'x' };
  it('returns the first match, or undefined', () => {
    expect(jsonPath(data, '$.a.b[1].c')).toBe(2);
    expect(jsonPath(data, '$..c')).toBe(1);
    expect(jsonPath(data, '$.a.b')).toEqual([{ c: 1 }, { c: 2 }]);
    expect(jsonPath(data, '$.missing')).toBeUndefined();
  });

  it('refuses script filters instead of evaluating them', () => {
    expect(() => jsonPath(data, '$.a.b[?(@.c > 1)]')).toThrow();
  });
});

describe('interpolate', () => {
  it('fills variables and names the missing one', () => {
    expect(interpolate('/u/{{id}}?t={{ token }}', { id: 7, token: 'x' })).toBe('/u/7?t=x');
    expect(() => interpolate('{{who}}', {})).toThrow('variable {{who}} is not defined by an earlier step');
  });
});
