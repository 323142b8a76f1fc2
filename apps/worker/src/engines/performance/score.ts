import type { ScoreFactor } from '@crucible/contracts';

/** Scales `value` linearly from full points at `good` down to 0 at `poor`. */
function linear(value: number, good: number, poor: number, max: number): number {
  if (value <= good) return max;
  if (value >= poor) return 0;
  return Math.round((max * (poor - value)) / (poor - good));
}

/**
 * The 0–100 score and how it was reached (README "performance" documents the same table):
 * median TTFB ≤ 200 ms → 30, ≥ 1000 ms → 0; median total ≤ 500 ms → 20, ≥ 3000 ms → 0;
 * page weight (document + resources) ≤ 500 KiB → 20, ≥ 4 MiB → 0; requests (document +
 * resources) ≤ 25 → 10, ≥ 100 → 0; text document compressed (or under 1 KiB) → 10;
 * every request answered 2xx/3xx → 10. Linear in between.
 */
export function scorePerformance(input: {
  ttfbMedian: number;
  totalMedian: number;
  pageBytes: number;
  requestCount: number;
  compressed: boolean;
  allOk: boolean;
}): { score: number; factors: ScoreFactor[] } {
  const KiB = 1024;
  const factors: ScoreFactor[] = [
    {
      name: 'ttfb',
      max: 30,
      points: linear(input.ttfbMedian, 200, 1000, 30),
      detail: `median time to first byte ${input.ttfbMedian} ms (full marks ≤ 200 ms, none ≥ 1000 ms)`,
    },
    {
      name: 'total',
      max: 20,
      points: linear(input.totalMedian, 500, 3000, 20),
      detail: `median document time ${input.totalMedian} ms (full marks ≤ 500 ms, none ≥ 3000 ms)`,
    },
    {
      name: 'weight',
      max: 20,
      points: linear(input.pageBytes, 500 * KiB, 4096 * KiB, 20),
      detail: `page weight ${Math.round(input.pageBytes / KiB)} KiB (full marks ≤ 500 KiB, none ≥ 4 MiB)`,
    },
    {
      name: 'requests',
      max: 10,
      points: linear(input.requestCount, 25, 100, 10),
      detail: `${input.requestCount} requests for the page (full marks ≤ 25, none ≥ 100)`,
    },
    {
      name: 'compression',
      max: 10,
      points: input.compressed ? 10 : 0,
      detail: input.compressed
        ? 'the document is compressed (or too small to matter)'
        : 'the document is sent uncompressed: enable gzip or brotli',
    },
    {
      name: 'status',
      max: 10,
      points: input.allOk ? 10 : 0,
      detail: input.allOk ? 'every request answered 2xx/3xx' : 'some requests failed or answered 4xx/5xx',
    },
  ];
  return { score: factors.reduce((sum, f) => sum + f.points, 0), factors };
}
