import type { PhaseSummary } from '@crucible/contracts';

/** Summary of one timing phase over the successful requests, in milliseconds. */
export type { PhaseSummary };

function sorted(values: readonly number[]): number[] {
  if (values.length === 0) throw new RangeError('statistics of an empty sample');
  return [...values].sort((a, b) => a - b);
}

/**
 * The p-th percentile (0–100) by linear interpolation between closest ranks (Hyndman & Fan type 7,
 * the default of NumPy, R and Excel's PERCENTILE.INC): rank h = (n − 1)·p/100, value
 * x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]). Chosen because with the handful of requests a
 * performance test makes, nearest-rank would just return the maximum for p95.
 */
export function percentile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  const xs = sorted(values);
  const h = ((xs.length - 1) * p) / 100;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, xs.length - 1);
  return xs[lo]! + (h - lo) * (xs[hi]! - xs[lo]!);
}

/** The middle value; the mean of the two middle values for an even count (= percentile 50). */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export function mean(values: readonly number[]): number {
  return sorted(values).reduce((a, b) => a + b, 0) / values.length;
}

/** Rounds to microseconds so results stay readable and JSON stays small. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

export function summarize(values: readonly number[]): PhaseSummary {
  const xs = sorted(values);
  return {
    min: xs[0]!,
    max: xs[xs.length - 1]!,
    mean: roundMs(mean(xs)),
    median: roundMs(median(xs)),
    p95: roundMs(percentile(xs, 95)),
  };
}
