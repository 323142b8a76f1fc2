import { describe, expect, it } from 'vitest';
import { mean, median, percentile, roundMs, summarize } from './stats.js';

describe('median', () => {
  it('is the middle value of an odd count, whatever the input order', () => {
    expect(median([9, 1, 5])).toBe(5);
  });

  it('is the mean of the two middle values of an even count', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('is the value itself for one value', () => {
    expect(median([7])).toBe(7);
  });
});

describe('percentile (linear interpolation, type 7)', () => {
  const oneToTwenty = Array.from({ length: 20 }, (_, i) => i + 1);

  it('interpolates between closest ranks', () => {
    // h = 19 * 0.95 = 18.05 → x[18] + 0.05 * (x[19] - x[18]) = 19 + 0.05
    expect(percentile(oneToTwenty, 95)).toBeCloseTo(19.05, 10);
    // h = 2 * 0.95 = 1.9 → 20 + 0.9 * (30 - 20)
    expect(percentile([30, 10, 20], 95)).toBeCloseTo(29, 10);
  });

  it('is the minimum at 0 and the maximum at 100', () => {
    expect(percentile([3, 8, 1], 0)).toBe(1);
    expect(percentile([3, 8, 1], 100)).toBe(8);
  });

  it('refuses an empty sample and an out-of-range p', () => {
    expect(() => percentile([], 50)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow('percentile must be within 0..100, got 101');
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });
});

describe('summarize', () => {
  it('gives min, max, mean, median and p95', () => {
    expect(summarize([10, 40, 20, 30])).toEqual({ min: 10, max: 40, mean: 25, median: 25, p95: 38.5 });
  });

  it('rounds derived values to microseconds', () => {
    expect(summarize([1, 1, 2])).toEqual({ min: 1, max: 2, mean: 1.333, median: 1, p95: 1.9 });
  });
});

describe('mean and roundMs', () => {
  it('computes the arithmetic mean', () => {
    expect(mean([1, 2, 3, 6])).toBe(3);
  });

  it('rounds to three decimals', () => {
    expect(roundMs(1.23456)).toBe(1.235);
  });
});
