import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import type { StressConfig, TestType } from './catalog.js';
import { MetricCatalog, extractMetrics, loadSamples } from './metrics.js';
import type { MetricValue, MetricValues } from './metrics.js';
import { spread } from './stats.js';
import { compareMetrics } from './comparison.js';
import type { ComparisonEntry } from './comparison.js';
import { AbortThreshold, evaluateThresholds, stressConfigThresholds } from './thresholds.js';
import type { ThresholdResult } from './thresholds.js';

/**
 * How a test is judged (issue 21): what a submission sets beside its `config`, stored with the
 * test (`test_queue.judging`) and carried by its job.
 */
export const Judging = Type.Object(
  {
    /** Threshold expressions in the order given. @defaultValue [] */
    thresholds: Type.Array(Type.String()),
    /** How many times the engine measures the target within the test (1–10). @defaultValue 1 */
    runs: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })),
    /** The test compared with: `baseline` of the submission resolved to a test id at submission. */
    baseline: Type.Optional(Type.String()),
    /** A metric that regressed against the baseline fails the verdict. @defaultValue false */
    failOnRegression: Type.Optional(Type.Boolean()),
    /** Changes within this many percent are "unchanged". @defaultValue DEFAULT_TOLERANCE_PCT (10) */
    comparisonTolerancePct: Type.Optional(Type.Number({ minimum: 0, maximum: 1000 })),
    /** Those of `thresholds` that stop the test when they fail live (stress only). @defaultValue [] */
    abortOnFail: Type.Optional(Type.Array(AbortThreshold)),
  },
  { additionalProperties: false },
);
export type Judging = Static<typeof Judging>;

export const DEFAULT_JUDGING: Judging = { thresholds: [] };

/** Every threshold a test is judged by: stress's config thresholds translated, then the submission's. */
export function thresholdsOf(
  testType: TestType,
  config: Record<string, unknown>,
  judging: Judging | undefined,
): string[] {
  const own = testType === 'stress' ? stressConfigThresholds((config as StressConfig).thresholds) : [];
  return [...own, ...(judging?.thresholds ?? [])];
}

/** Runs a test makes. */
export const MAX_RUNS = 10;

/**
 * `result.metrics` over the runs' results: one value per catalogue metric; with several runs the
 * value is the median of the runs that measured it and `runs` its spread.
 */
export function aggregateMetrics(
  testType: TestType,
  results: readonly object[],
): Record<string, MetricValue> {
  const perRun: MetricValues[] = results.map((r) => extractMetrics(testType, r));
  // A browser result holds several page loads (its config.runs): the spread is over every load.
  const perLoad = results.map((r) => loadSamples(testType, r));
  return Object.fromEntries(
    MetricCatalog[testType].map(({ name, unit }) => {
      const samples = perRun.map((m) => m[name]).filter((v): v is number => v !== null && v !== undefined);
      const loads = perLoad.every((l) => l !== null) ? perLoad.flatMap((l) => l![name] ?? []) : null;
      if (loads && loads.length > 1) {
        // One result: its own chosen load (browser: Lighthouse's median run); several: the median load.
        const runs = spread(loads);
        return [name, { value: results.length === 1 ? (samples[0] ?? null) : runs.median, unit, runs }];
      }
      if (results.length === 1 || samples.length === 0) return [name, { value: samples[0] ?? null, unit }];
      const runs = spread(samples);
      return [name, { value: runs.median, unit, runs }];
    }),
  );
}

/** What the worker derives from a test's runs and stores beside the last run's result. */
export interface Judgement {
  metrics: Record<string, MetricValue>;
  thresholds: ThresholdResult[];
  /** Present when the test had a baseline that had metrics. */
  comparison?: ComparisonEntry[];
}

/**
 * An engine's results as stored: the last run's result with the metrics over every run, the
 * thresholds judged on them and, given the baseline's metrics, the comparison with it.
 */
export function judgeResult<R extends object>(
  testType: TestType,
  config: Record<string, unknown>,
  judging: Judging | undefined,
  results: readonly R[],
  baselineMetrics?: Record<string, MetricValue> | null,
): R & Judgement {
  const last = results.at(-1);
  if (!last) throw new RangeError('a test is judged on at least one run');
  const metrics = aggregateMetrics(testType, results);
  const values = Object.fromEntries(Object.entries(metrics).map(([name, m]) => [name, m.value]));
  const comparison = baselineMetrics
    ? { comparison: compareMetrics(testType, baselineMetrics, metrics, judging?.comparisonTolerancePct) }
    : {};
  // The threshold that stopped the test failed, whatever the partial result's figures say now.
  const aborted = (last as { aborted?: { threshold?: unknown } }).aborted?.threshold;
  const thresholds = evaluateThresholds(thresholdsOf(testType, config, judging), values).map((t) =>
    t.expression === aborted ? { ...t, passed: false } : t,
  );
  return {
    ...last,
    metrics,
    thresholds,
    ...comparison,
  };
}
