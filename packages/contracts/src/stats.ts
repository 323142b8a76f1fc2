import type { RunsSpread } from './metrics.js';

/**
 * The statistics of repeated runs (issue 21): pure functions over small samples (at most 10 runs
 * a side), shared by the worker that stores them and anything that reads them back.
 */

/** The `q` quantile (0–1) of sorted values, interpolated linearly between neighbours (R's type 7). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of no values');
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function median(values: readonly number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

/** Median, extremes and quartiles of one metric over the runs, with the samples in run order. */
export function spread(samples: readonly number[]): RunsSpread {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    median: quantile(sorted, 0.5),
    min: sorted[0]!,
    max: sorted.at(-1)!,
    p25: quantile(sorted, 0.25),
    p75: quantile(sorted, 0.75),
    samples: [...samples],
  };
}
