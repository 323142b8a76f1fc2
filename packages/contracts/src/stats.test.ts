import { describe, expect, it } from 'vitest';
import { aggregateMetrics } from './judging.js';
import { quantile, spread } from './stats.js';

describe('spread', () => {
  it('is the median, extremes and interpolated quartiles, samples kept in run order', () => {
    expect(spread([30, 10, 50, 20, 40])).toEqual({
      median: 30,
      min: 10,
      max: 50,
      p25: 20,
      p75: 40,
      samples: [30, 10, 50, 20, 40],
    });
    expect(spread([4, 1, 3, 2])).toEqual({
      median: 2.5,
      min: 1,
      max: 4,
      p25: 1.75,
      p75: 3.25,
      samples: [4, 1, 3, 2],
    });
    expect(() => quantile([], 0.5)).toThrow(RangeError);
  });
});

describe('aggregateMetrics', () => {
  const seo = (score: number) => ({ score, counts: { pass: 1, warn: 2, fail: 3 } });
  it('reports one run as its value, several as the median with their spread', () => {
    expect(aggregateMetrics('seo', [seo(70)]).score).toEqual({ value: 70, unit: 'score' });
    expect(aggregateMetrics('seo', [seo(70), seo(90), seo(80)]).score).toEqual({
      value: 80,
      unit: 'score',
      runs: { median: 80, min: 70, max: 90, p25: 75, p75: 85, samples: [70, 90, 80] },
    });
  });

  it('leaves out the runs that measured nothing, and is null when none did', () => {
    const stress = (p95: number | null) => ({
      latency: p95 === null ? null : { p95 },
      totals: {},
      errorRatePct: 0,
    });
    const m = aggregateMetrics('stress', [stress(10), stress(null), stress(30)]);
    expect(m['latency.p95']).toEqual({
      value: 20,
      unit: 'ms',
      runs: { median: 20, min: 10, max: 30, p25: 15, p75: 25, samples: [10, 30] },
    });
    expect(aggregateMetrics('stress', [stress(null), stress(null)])['latency.p95']).toEqual({
      value: null,
      unit: 'ms',
    });
  });
});
