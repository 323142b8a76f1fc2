import { describe, expect, it } from 'vitest';
import { TestCatalog } from './catalog.js';
import { extractMetrics, resultMetrics } from './metrics.js';

describe('extractMetrics', () => {
  it('reads every catalogue metric of each type, null where the result has nothing', () => {
    for (const type of Object.keys(TestCatalog) as (keyof typeof TestCatalog)[]) {
      const values = extractMetrics(type, null);
      expect(Object.keys(values)).toEqual(TestCatalog[type].metrics.map((m) => m.name));
      expect(Object.values(values).every((v) => v === null)).toBe(true);
    }
  });

  it('reports no timing for a performance test none of whose requests succeeded', () => {
    const zero = { min: 0, max: 0, mean: 0, median: 0, p95: 0 };
    const result = {
      requests: { total: 3, succeeded: 0, failed: 3 },
      summary: { ttfb: zero, total: zero, dns: zero, connect: zero, tls: zero },
      score: 0,
    };
    expect(extractMetrics('performance', result)).toMatchObject({
      'ttfb.median': null,
      'errors.count': 3,
      score: 0,
    });
  });

  it('reads a stress test with no response as no latency, and its error rate as a ratio', () => {
    const result = { latency: null, totals: { rps: 12.5, requests: 25 }, errorRatePct: 40 };
    expect(extractMetrics('stress', result)).toEqual({
      'latency.p50': null,
      'latency.p95': null,
      'latency.p99': null,
      rps: 12.5,
      'errors.rate': 0.4,
      'requests.total': 25,
    });
  });

  it('counts an api step that could not be sent as a failed check', () => {
    const result = {
      totals: { assertions: 4, assertionsFailed: 1 },
      steps: [{ durationMs: 12.5 }, { durationMs: 7 }, { durationMs: null, error: 'no such variable' }],
    };
    expect(resultMetrics('api', result)).toEqual({
      'checks.failed': { value: 2, unit: 'count' },
      'checks.passed': { value: 3, unit: 'count' },
      'duration.total': { value: 19.5, unit: 'ms' },
    });
  });
});
