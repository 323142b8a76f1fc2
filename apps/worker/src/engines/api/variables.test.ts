import { describe, expect, it } from 'vitest';
import { interpolate } from './variables.js';

describe('interpolate', () => {
  it('fills variables and names the missing one', () => {
    expect(interpolate('/u/{{id}}?t={{ token }}', { id: 7, token: 'x' })).toBe('/u/7?t=x');
    expect(() => interpolate('{{who}}', {})).toThrow('variable {{who}} is not defined by an earlier step');
  });
});
