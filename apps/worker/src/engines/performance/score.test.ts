import { describe, expect, it } from 'vitest';
import { scorePerformance } from './score.js';

describe('scorePerformance', () => {
  const good = {
    ttfbMedian: 100,
    totalMedian: 300,
    pageBytes: 100_000,
    requestCount: 10,
    compressed: true,
    allOk: true,
  };

  it('gives full marks within every threshold', () => {
    expect(scorePerformance(good).score).toBe(100);
  });

  it('scales each factor linearly between its thresholds', () => {
    const { score, factors } = scorePerformance({
      ...good,
      ttfbMedian: 600,
      totalMedian: 3000,
      compressed: false,
    });
    expect(Object.fromEntries(factors.map((f) => [f.name, f.points]))).toEqual({
      ttfb: 15,
      total: 0,
      weight: 20,
      requests: 10,
      compression: 0,
      status: 10,
    });
    expect(score).toBe(55);
    expect(
      scorePerformance({ ...good, pageBytes: 8 * 1024 * 1024, requestCount: 200, allOk: false }).score,
    ).toBe(60);
  });
});
