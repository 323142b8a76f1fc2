import { describe, expect, it } from 'vitest';
import { addPoint, toStressPoint } from './stress-series';
import type { StressPoint } from './stress-series';

describe('stress series', () => {
  it('reads a per-second figure with nested or flat latency, and refuses anything else', () => {
    expect(
      toStressPoint({ second: 3, rps: 120, latency: { p50: 2, p95: 9, p99: 14 }, errors: 1, connections: 5 }),
    ).toEqual({ t: 3, rps: 120, p50: 2, p95: 9, p99: 14, errors: 1, connections: 5 });
    expect(toStressPoint({ elapsedSec: 1, rps: 10, p50: 1, p95: 2, p99: 3 })).toEqual({
      t: 1,
      rps: 10,
      p50: 1,
      p95: 2,
      p99: 3,
      errors: 0,
      connections: null,
    });
    expect(toStressPoint({ progress: 40, stage: 'iteration 2 of 5' })).toBeNull();
    expect(toStressPoint(null)).toBeNull();
  });

  it('keeps one point per second in order, whatever order they arrive in', () => {
    const p = (t: number, rps = t): StressPoint => ({
      t,
      rps,
      p50: 1,
      p95: 1,
      p99: 1,
      errors: 0,
      connections: null,
    });
    let series = [p(1), p(2)];
    series = addPoint(series, p(3));
    series = addPoint(series, p(2, 99));
    series = addPoint(series, p(0));
    expect(series.map((x) => [x.t, x.rps])).toEqual([
      [0, 0],
      [1, 1],
      [2, 99],
      [3, 3],
    ]);
  });
});
