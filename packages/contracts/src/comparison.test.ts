import { describe, expect, it } from 'vitest';
import { compareMetrics, mannWhitneyP } from './comparison.js';
import { aggregateMetrics } from './judging.js';

describe('mannWhitneyP', () => {
  it('is the exact two-sided p-value', () => {
    // Completely separated samples of 5: 2 of the C(10,5) = 252 orderings are as extreme.
    expect(mannWhitneyP([6, 7, 8, 9, 10], [1, 2, 3, 4, 5])).toBeCloseTo(2 / 252, 12);
    expect(mannWhitneyP([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])).toBeCloseTo(2 / 252, 12);
    // 3 against 3 can never reach 95 %: 2 of 20.
    expect(mannWhitneyP([4, 5, 6], [1, 2, 3])).toBeCloseTo(0.1, 12);
    expect(mannWhitneyP([1, 2, 3], [1, 2, 3])).toBe(1);
  });
});

describe('compareMetrics', () => {
  const seo = (score: number) => ({ score, counts: { pass: 5, warn: 1, fail: 0 } });
  const perf = (ttfb: number) => ({
    requests: { succeeded: 1, failed: 0 },
    summary: { ttfb: { median: ttfb }, total: { median: ttfb + 1 } },
    score: 100,
  });

  it('with single runs, lets the tolerance decide', () => {
    const compare = (before: number, after: number, tolerance?: number) =>
      compareMetrics(
        'seo',
        aggregateMetrics('seo', [seo(before)]),
        aggregateMetrics('seo', [seo(after)]),
        tolerance,
      )[0];
    expect(compare(80, 75)).toEqual({
      metric: 'score',
      baseline: 80,
      current: 75,
      changePct: -6.25,
      verdict: 'unchanged',
      confidence: null,
    });
    expect(compare(80, 70)).toMatchObject({ verdict: 'regressed', changePct: -12.5 });
    expect(compare(80, 90)).toMatchObject({ verdict: 'improved' });
    expect(compare(80, 75, 5)).toMatchObject({ verdict: 'regressed' });
  });

  it('counts any new error against a baseline of none', () => {
    const [, error] = compareMetrics(
      'seo',
      aggregateMetrics('seo', [seo(80)]),
      aggregateMetrics('seo', [{ score: 80, counts: { pass: 5, warn: 1, fail: 1 } }]),
    );
    expect(error).toEqual({
      metric: 'issues.error',
      baseline: 0,
      current: 1,
      changePct: null,
      verdict: 'regressed',
      confidence: null,
    });
  });

  it('with several runs, needs the rank test to be significant as well as the change to matter', () => {
    const runs = (...ttfbs: number[]) => aggregateMetrics('performance', ttfbs.map(perf));
    const base = runs(20, 21, 19, 22, 20);
    const ttfb = (current: ReturnType<typeof runs>) =>
      compareMetrics('performance', base, current).find((c) => c.metric === 'ttfb.median')!;
    expect(ttfb(runs(60, 61, 59, 63, 60))).toMatchObject({
      verdict: 'regressed',
      current: 60,
      confidence: 1 - 2 / 252,
    });
    // Large in the median, but the samples overlap: noise.
    expect(ttfb(runs(19, 40, 18, 41, 39))).toMatchObject({ verdict: 'unchanged' });
    // Significant but within the tolerance.
    expect(ttfb(runs(21.5, 21.6, 21.7, 21.8, 22.5))).toMatchObject({ verdict: 'unchanged' });
    // A sub-millisecond timing moves by more than 10 % without mattering.
    const tiny = (...v: number[]) => aggregateMetrics('performance', v.map(perf));
    const sub = compareMetrics(
      'performance',
      tiny(0.2, 0.21, 0.2, 0.22, 0.2),
      tiny(0.5, 0.51, 0.5, 0.52, 0.5),
    );
    expect(sub.find((c) => c.metric === 'ttfb.median')).toMatchObject({ verdict: 'unchanged' });
  });

  it('leaves out metrics either side did not measure', () => {
    const m = compareMetrics(
      'performance',
      aggregateMetrics('performance', [{ requests: { succeeded: 0, failed: 3 }, score: 0 }]),
      aggregateMetrics('performance', [perf(20)]),
    );
    expect(m.map((c) => c.metric)).toEqual(['errors.count', 'score']);
  });
});
