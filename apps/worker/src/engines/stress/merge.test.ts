import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeHistogram, latencyHistogram, latencyOf, mergeHistograms, mergeSecond } from './merge.js';

/** Latencies in µs from 1 µs to 10 min, spread over every order of magnitude. */
const latency = fc.oneof(
  fc.integer({ min: 1, max: 1_000 }),
  fc.integer({ min: 1_000, max: 100_000 }),
  fc.integer({ min: 100_000, max: 600_000_000 }),
);

function encoded(samples: readonly number[]): string {
  const h = latencyHistogram();
  for (const v of samples) h.recordValue(v);
  const text = encodeHistogram(h);
  h.destroy();
  return text;
}

describe('merging shards’ latency histograms', () => {
  it('gives the percentiles of one histogram fed every sample, however the samples are split across 1–16 shards', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(latency, fc.nat()), { minLength: 1, maxLength: 2_000 }),
        fc.integer({ min: 1, max: 16 }),
        (samples, shards) => {
          const whole = latencyHistogram();
          const parts: number[][] = Array.from({ length: shards }, () => []);
          for (const [value, pick] of samples) {
            whole.recordValue(value);
            parts[pick % shards]!.push(value);
          }
          const merged = mergeHistograms(parts.map(encoded));
          expect(merged.totalCount).toBe(samples.length);
          for (const p of [50, 75, 90, 95, 99, 99.9]) {
            expect(merged.getValueAtPercentile(p)).toBe(whole.getValueAtPercentile(p));
          }
          const [a, b] = [latencyOf(merged)!, latencyOf(whole)!];
          const { p50, p75, p90, p95, p99, p999 } = b;
          expect(a).toMatchObject({ p50, p75, p90, p95, p99, p999 });
          // The exact minimum and maximum are not sent, only their buckets: within HDR's 3 digits.
          for (const key of ['min', 'max', 'mean'] as const) {
            expect(Math.abs(a[key] - b[key])).toBeLessThanOrEqual(b[key] / 1000 + 0.001);
          }
          merged.destroy();
          whole.destroy();
        },
      ),
      { numRuns: 50 },
    );
  });

  it('adds the counters of a second and takes its percentiles from the merged latencies', () => {
    const point = mergeSecond(3, [
      {
        second: 3,
        requests: 3,
        errors: 1,
        errorsByKind: { ECONNRESET: 1 },
        statusCodes: { 200: 2 },
        connections: 2,
        active: 2,
        histogram: encoded([1_000, 2_000]),
      },
      {
        second: 3,
        requests: 2,
        errors: 1,
        errorsByKind: { 'HTTP 500': 1 },
        statusCodes: { 200: 1, 500: 1 },
        connections: 3,
        active: 3,
        histogram: encoded([40_000, 50_000]),
      },
    ]);
    expect(point).toEqual({
      second: 3,
      requests: 5,
      rps: 5,
      p50: 2,
      p95: 50.015,
      p99: 50.015,
      errors: 2,
      errorsByKind: { ECONNRESET: 1, 'HTTP 500': 1 },
      statusCodes: { 200: 3, 500: 1 },
      connections: 5,
      active: 5,
    });
  });
});
