import { describe, expect, it } from 'vitest';
import { aggregateMetrics } from './judging.js';
import { extractMetrics } from './metrics.js';

// A browser result holds its own page loads (config.runs) and names the median one (Lighthouse's
// rule): its metrics are that run's values, their spread every load's.

const vitals = (lcp: number, cls: number) => ({ lcp, fcp: lcp / 2, cls, tbt: 0, ttfb: 10, speedIndex: lcp });
const scores = (performance: number) => ({ performance, accessibility: 100, bestPractices: null, seo: 90 });
const run = (n: number, lcp: number, cls: number, perf: number) => ({
  run: n,
  vitals: vitals(lcp, cls),
  scores: scores(perf),
  error: null,
});
const result = (runs: ReturnType<typeof run>[], median: number) => ({
  vitals: runs[median - 1]!.vitals,
  scores: runs[median - 1]!.scores,
  runs,
  medianRun: median,
});

describe('browser metrics', () => {
  it("reads the median run's Web Vitals and scores under the catalogue's names", () => {
    const r = result([run(1, 3000, 0.2, 70), run(2, 2000, 0.1, 80)], 2);
    expect(extractMetrics('browser', r)).toEqual({
      lcp: 2000,
      fcp: 1000,
      cls: 0.1,
      tbt: 0,
      ttfb: 10,
      speedIndex: 2000,
      'score.performance': 80,
      'score.accessibility': 100,
      'score.bestPractices': null,
      'score.seo': 90,
    });
  });

  it("one test: the median run's value, the spread over every load", () => {
    const r = result([run(1, 3000, 0.2, 70), run(2, 2000, 0.1, 80), run(3, 1000, 0.3, 90)], 2);
    const metrics = aggregateMetrics('browser', [r]);
    expect(metrics.lcp).toEqual({
      value: 2000,
      unit: 'ms',
      runs: { median: 2000, min: 1000, max: 3000, p25: 1500, p75: 2500, samples: [3000, 2000, 1000] },
    });
    expect(metrics['score.bestPractices']).toEqual({ value: null, unit: 'score' });
  });

  it('several runs of the test (issue 21): the median of every load', () => {
    const a = result([run(1, 1000, 0, 90), run(2, 1100, 0, 90)], 1);
    const b = result([run(1, 5000, 0, 50), run(2, 4000, 0, 60)], 2);
    expect(aggregateMetrics('browser', [a, b]).lcp!.value).toBe(2550);
    expect(aggregateMetrics('browser', [a, b]).lcp!.runs!.samples).toEqual([1000, 1100, 5000, 4000]);
  });

  it('a single load has no spread', () => {
    expect(aggregateMetrics('browser', [result([run(1, 1200, 0.01, 99)], 1)]).lcp).toEqual({
      value: 1200,
      unit: 'ms',
    });
  });
});
