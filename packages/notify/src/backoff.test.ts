import { describe, expect, it } from 'vitest';
import { parseRetryAfter, retryDelayMs } from './backoff.js';

describe('backoff', () => {
  const options = { baseMs: 1_000, maxMs: 8_000 };
  it('doubles per attempt up to the cap, a random half taken off', () => {
    expect([1, 2, 3, 4, 5].map((n) => retryDelayMs(n, undefined, options, () => 1))).toEqual([
      1_000, 2_000, 4_000, 8_000, 8_000,
    ]);
    expect([1, 2, 3, 4, 5].map((n) => retryDelayMs(n, undefined, options, () => 0))).toEqual([
      500, 1_000, 2_000, 4_000, 4_000,
    ]);
  });
  it('takes the receiver’s Retry-After as given, beyond the backoff’s cap', () => {
    expect(retryDelayMs(1, 120_000, options, () => 0)).toBe(120_000);
  });
  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-12-05T10:00:00Z');
    expect(parseRetryAfter('30', now)).toBe(30_000);
    expect(parseRetryAfter('Sat, 05 Dec 2026 10:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
