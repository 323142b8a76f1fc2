import { describe, expect, it } from 'vitest';
import { jsonPath, selectJson } from './json-select.js';

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

describe('selectJson', () => {
  it('reads each path of a JSON body, or says why it could not', () => {
    expect(selectJson('{"a":[1,2]}', ['$.a[1]', '$.b', '$.a[?(@ > 1)]'])).toEqual({
      error: null,
      matches: [{ value: 2 }, {}, { error: expect.stringContaining('Eval') }],
    });
  });

  it('tells an empty body, which matches nothing, from one that is not JSON', () => {
    expect(selectJson('', ['$.a'])).toEqual({ error: null, matches: [{}] });
    expect(selectJson('<html>', ['$.a'])).toEqual({
      error: `Unexpected token '<', "<html>" is not valid JSON`,
      matches: [],
    });
  });
});
