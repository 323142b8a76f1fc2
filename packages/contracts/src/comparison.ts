import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import type { TestType } from './catalog.js';
import { MetricCatalog } from './metrics.js';
import type { MetricSpec, MetricValue } from './metrics.js';

/**
 * A test compared with its baseline (issue 21), metric by metric. "regressed" must mean more than
 * run-to-run noise: with several runs on both sides the samples go through a two-sided
 * Mann–Whitney U test at 95 %; with a single run on either side only the tolerance decides. In
 * both cases a change smaller than the tolerance (`comparisonTolerancePct`, default 10 %), or
 * than 1 ms for a timing, is "unchanged": it may be real, but it is not worth failing a build for,
 * and a sub-millisecond timing on a fast target is mostly the clock.
 */

/** @defaultValue of `comparisonTolerancePct`. */
export const DEFAULT_TOLERANCE_PCT = 10;
/** The smallest change of a millisecond metric that counts. */
const MIN_MS_CHANGE = 1;
/** Two-sided significance level of the rank test. */
const ALPHA = 0.05;

export const ComparisonEntry = Type.Object(
  {
    metric: Type.String(),
    /** The baseline's value (its median with several runs). */
    baseline: Type.Number(),
    current: Type.Number(),
    /** (current − baseline) / |baseline| × 100; null when the baseline is 0. */
    changePct: Type.Union([Type.Number(), Type.Null()]),
    verdict: Type.Union([Type.Literal('regressed'), Type.Literal('improved'), Type.Literal('unchanged')]),
    /** 1 − the rank test's p-value; null when a side had a single run (the tolerance decided). */
    confidence: Type.Union([Type.Number(), Type.Null()]),
  },
  { additionalProperties: false },
);
export type ComparisonEntry = Static<typeof ComparisonEntry>;

/** Ways to pick n1 of the n1 + n2 ranks whose U statistic is exactly u, for every u (no ties). */
function uCounts(n1: number, n2: number): number[] {
  // counts[a][b][u] built up one sample at a time: the largest rank is either one of the first
  // sample's (adding b to U) or one of the second's.
  let prev: number[][] = Array.from({ length: n2 + 1 }, () => [1]);
  for (let a = 1; a <= n1; a++) {
    const cur: number[][] = [[1]];
    for (let b = 1; b <= n2; b++) {
      const out = new Array<number>(a * b + 1).fill(0);
      prev[b]!.forEach((c, u) => (out[u + b]! += c));
      cur[b - 1]!.forEach((c, u) => (out[u]! += c));
      cur.push(out);
    }
    prev = cur;
  }
  return prev[n2]!;
}

/** Two-sided exact p-value of the Mann–Whitney U test of x against y (midranks for ties). */
export function mannWhitneyP(x: readonly number[], y: readonly number[]): number {
  let u = 0;
  for (const a of x) for (const b of y) u += a > b ? 1 : a === b ? 0.5 : 0;
  const counts = uCounts(x.length, y.length);
  const total = counts.reduce((s, c) => s + c, 0);
  const tail = (from: number, to: number) => counts.slice(from, to + 1).reduce((s, c) => s + c, 0) / total;
  const lower = tail(0, Math.floor(u));
  const upper = tail(Math.ceil(u), counts.length - 1);
  return Math.min(1, 2 * Math.min(lower, upper));
}

function changeOf(baseline: number, current: number): number | null {
  return baseline === 0 ? null : ((current - baseline) / Math.abs(baseline)) * 100;
}

/** Whether the change is large enough to matter at all (tolerance, and 1 ms for timings). */
function matters(spec: MetricSpec, baseline: number, current: number, tolerancePct: number): boolean {
  if (spec.unit === 'ms' && Math.abs(current - baseline) < MIN_MS_CHANGE) return false;
  const pct = changeOf(baseline, current);
  return pct === null ? current !== baseline : Math.abs(pct) > tolerancePct;
}

function compareOne(
  spec: MetricSpec,
  base: MetricValue,
  cur: MetricValue,
  tolerancePct: number,
): ComparisonEntry | null {
  if (base.value === null || cur.value === null) return null;
  const [baseline, current] = [base.value, cur.value];
  const x = base.runs?.samples ?? [];
  const y = cur.runs?.samples ?? [];
  const ranked = x.length > 1 && y.length > 1;
  const p = ranked ? mannWhitneyP(y, x) : null;
  const changed = matters(spec, baseline, current, tolerancePct) && (p === null || p < ALPHA);
  const worse = spec.better === 'lower' ? current > baseline : current < baseline;
  return {
    metric: spec.name,
    baseline,
    current,
    changePct: changeOf(baseline, current),
    verdict: !changed ? 'unchanged' : worse ? 'regressed' : 'improved',
    confidence: p === null ? null : 1 - p,
  };
}

/** Every catalogue metric both tests measured, compared; in catalogue order. */
export function compareMetrics(
  testType: TestType,
  baseline: Record<string, MetricValue>,
  current: Record<string, MetricValue>,
  tolerancePct: number = DEFAULT_TOLERANCE_PCT,
): ComparisonEntry[] {
  return (MetricCatalog[testType] as readonly MetricSpec[]).flatMap((spec) => {
    const [b, c] = [baseline[spec.name], current[spec.name]];
    const entry = b && c ? compareOne(spec, b, c, tolerancePct) : null;
    return entry ? [entry] : [];
  });
}
