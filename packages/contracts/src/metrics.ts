import { Type } from '@sinclair/typebox';
import type { Static, TObject, TSchema } from '@sinclair/typebox';
import type { TestType } from './catalog.js';

/**
 * The metric catalogue (issue 21): what each test type measures, under a stable dotted name that
 * thresholds (`"latency.p95 < 300"`) and baseline comparisons refer to. Extraction is one pure
 * function per type over the engine's result, so the worker (which stores `result.metrics`) and
 * anything reading a stored result agree on every number.
 */

/** One metric of a type, as `GET /api/test/types` lists it. */
export interface MetricSpec {
  name: string;
  /** `ms`, `count`, `ratio` (0–1), `score` (0–100), `rps` (requests/s). */
  unit: string;
  description: string;
  /** Which way is an improvement: a baseline comparison calls the other way a regression. */
  better: 'lower' | 'higher';
}

/** A metric's value: null when nothing was measured (e.g. latency of a stress test with no response). */
export type MetricValues = Record<string, number | null>;

const ms = (name: string, description: string): MetricSpec => ({
  name,
  unit: 'ms',
  description,
  better: 'lower',
});
const count = (name: string, description: string): MetricSpec => ({
  name,
  unit: 'count',
  description,
  better: 'lower',
});
const score = (description: string): MetricSpec => ({
  name: 'score',
  unit: 'score',
  description,
  better: 'higher',
});

const browserScore = (category: string, description: string): MetricSpec => ({
  name: `score.${category}`,
  unit: 'score',
  description,
  better: 'higher',
});

export const MetricCatalog = {
  performance: [
    ms('ttfb.median', 'Time to first byte, median over the iterations'),
    ms('total.median', 'Whole request (connect to last byte), median over the iterations'),
    ms('dns.median', 'DNS lookup, median over the iterations'),
    ms('connect.median', 'TCP connect, median over the iterations'),
    ms('tls.median', 'TLS handshake, median over the iterations (0 over plain HTTP)'),
    count('errors.count', 'Iterations that failed (no response)'),
    score('Performance score, 0–100'),
  ],
  stress: [
    ms('latency.p50', 'Response time, 50th percentile'),
    ms('latency.p95', 'Response time, 95th percentile'),
    ms('latency.p99', 'Response time, 99th percentile'),
    { name: 'rps', unit: 'rps', description: 'Requests completed per second', better: 'higher' },
    {
      name: 'errors.rate',
      unit: 'ratio',
      description: 'Share of requests that failed, 0–1',
      better: 'lower',
    },
    { name: 'requests.total', unit: 'count', description: 'Requests completed', better: 'higher' },
  ],
  api: [
    count('checks.failed', 'Assertions that failed, plus steps that could not be sent'),
    { name: 'checks.passed', unit: 'count', description: 'Assertions that held', better: 'higher' },
    ms('duration.total', 'Sum of the steps’ response times'),
  ],
  seo: [
    score('SEO score, 0–100'),
    count('issues.error', 'Checks that failed'),
    count('issues.warning', 'Checks that warned'),
  ],
  security: [
    score('Security score, 0–100'),
    count('findings.critical', 'Critical findings (none of the checks rates one critical today)'),
    count('findings.high', 'High-severity findings'),
    count('findings.medium', 'Medium-severity findings'),
    count('findings.low', 'Low-severity findings'),
  ],
  browser: [
    ms('lcp', 'Largest Contentful Paint (of the median run)'),
    ms('fcp', 'First Contentful Paint'),
    { name: 'cls', unit: 'unitless', description: 'Cumulative Layout Shift', better: 'lower' },
    ms('tbt', 'Total Blocking Time'),
    ms('ttfb', 'Time to first byte of the document'),
    ms('speedIndex', 'Speed Index: how quickly the page is visibly populated'),
    browserScore('performance', 'Lighthouse performance score, 0–100'),
    browserScore('accessibility', 'Lighthouse accessibility score, 0–100'),
    browserScore('bestPractices', 'Lighthouse best-practices score, 0–100'),
    browserScore('seo', 'Lighthouse SEO score, 0–100'),
  ],
} as const satisfies Record<TestType, readonly MetricSpec[]>;

/** The metric names of a type, in catalogue order. */
export function metricNames(testType: TestType): string[] {
  return MetricCatalog[testType].map((m) => m.name);
}

/** The spec of a type's metric, or undefined when the type has no such metric. */
export function metricSpec(testType: TestType, name: string): MetricSpec | undefined {
  return (MetricCatalog[testType] as readonly MetricSpec[]).find((m) => m.name === name);
}

/** Results are read as stored JSON, never trusted: a missing or non-numeric field is null. */
const at = (value: unknown, path: string): number | null => {
  let v: unknown = value;
  for (const key of path.split('.')) {
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
  }
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
};

function performanceMetrics(r: unknown): MetricValues {
  const succeeded = at(r, 'requests.succeeded');
  // No successful request: there is no timing to report (the summary holds zeros then).
  const phase = (name: string) => (succeeded ? at(r, `summary.${name}.median`) : null);
  return {
    'ttfb.median': phase('ttfb'),
    'total.median': phase('total'),
    'dns.median': phase('dns'),
    'connect.median': phase('connect'),
    'tls.median': phase('tls'),
    'errors.count': at(r, 'requests.failed'),
    score: at(r, 'score'),
  };
}

function stressMetrics(r: unknown): MetricValues {
  const pct = at(r, 'errorRatePct');
  return {
    'latency.p50': at(r, 'latency.p50'),
    'latency.p95': at(r, 'latency.p95'),
    'latency.p99': at(r, 'latency.p99'),
    rps: at(r, 'totals.rps'),
    'errors.rate': pct === null ? null : pct / 100,
    'requests.total': at(r, 'totals.requests'),
  };
}

function apiMetrics(r: unknown): MetricValues {
  const steps = (r as { steps?: unknown } | null)?.steps;
  const list = Array.isArray(steps) ? (steps as unknown[]) : [];
  const assertions = at(r, 'totals.assertions');
  const assertionsFailed = at(r, 'totals.assertionsFailed');
  const unsent = list.filter((s) => typeof (s as { error?: unknown }).error === 'string').length;
  return {
    'checks.failed': assertionsFailed === null ? null : assertionsFailed + unsent,
    'checks.passed': assertions === null || assertionsFailed === null ? null : assertions - assertionsFailed,
    'duration.total': Array.isArray(steps)
      ? list.reduce<number>((sum, s) => sum + (at(s, 'durationMs') ?? 0), 0)
      : null,
  };
}

function seoMetrics(r: unknown): MetricValues {
  return {
    score: at(r, 'score'),
    'issues.error': at(r, 'counts.fail'),
    'issues.warning': at(r, 'counts.warn'),
  };
}

function securityMetrics(r: unknown): MetricValues {
  const high = at(r, 'counts.high');
  return {
    score: at(r, 'score'),
    // The engine rates nothing above high: zero critical findings whenever findings were counted.
    'findings.critical': high === null ? null : 0,
    'findings.high': high,
    'findings.medium': at(r, 'counts.medium'),
    'findings.low': at(r, 'counts.low'),
  };
}

const BROWSER_VITALS = ['lcp', 'fcp', 'cls', 'tbt', 'ttfb', 'speedIndex'] as const;
const BROWSER_SCORES = ['performance', 'accessibility', 'bestPractices', 'seo'] as const;

/** One load of a browser test (its median run, or any run of `runs`). */
function browserRunMetrics(run: unknown): MetricValues {
  return {
    ...Object.fromEntries(BROWSER_VITALS.map((v) => [v, at(run, `vitals.${v}`)])),
    ...Object.fromEntries(BROWSER_SCORES.map((c) => [`score.${c}`, at(run, `scores.${c}`)])),
  };
}

/** Each metric's value in every load that measured it, in run order. */
function browserSamples(r: unknown): Record<string, number[]> {
  const runs = (r as { runs?: unknown } | null)?.runs;
  const samples: Record<string, number[]> = {};
  for (const run of Array.isArray(runs) ? (runs as unknown[]) : []) {
    for (const [name, value] of Object.entries(browserRunMetrics(run))) {
      if (value !== null) (samples[name] ??= []).push(value);
    }
  }
  return samples;
}

const extractors: Record<TestType, (result: unknown) => MetricValues> = {
  performance: performanceMetrics,
  stress: stressMetrics,
  api: apiMetrics,
  seo: seoMetrics,
  security: securityMetrics,
  browser: browserRunMetrics,
};

/** Per-load samples of the types whose engine measures several loads itself (browser's `config.runs`). */
const samplers: Partial<Record<TestType, (result: unknown) => Record<string, number[]>>> = {
  browser: browserSamples,
};

/**
 * Each metric's value in every load one result measured, in order, for a type whose engine loads
 * the target several times itself; null for the other types (one result is one measurement).
 */
export function loadSamples(testType: TestType, result: unknown): Record<string, number[]> | null {
  return samplers[testType]?.(result) ?? null;
}

/** Every catalogue metric of `testType` read from an engine's `result` (null: not measured). */
export function extractMetrics(testType: TestType, result: unknown): MetricValues {
  return extractors[testType](result);
}

/** The spread of a metric over the runs of one test (`runs > 1`). */
export const RunsSpread = Type.Object(
  {
    median: Type.Number(),
    min: Type.Number(),
    max: Type.Number(),
    p25: Type.Number(),
    p75: Type.Number(),
    /** One value per run that measured it, in run order. */
    samples: Type.Array(Type.Number()),
  },
  { additionalProperties: false },
);
export type RunsSpread = Static<typeof RunsSpread>;

export const MetricValue = Type.Object(
  {
    /** null when nothing was measured; with several runs, the median of the runs. */
    value: Type.Union([Type.Number(), Type.Null()]),
    unit: Type.String(),
    runs: Type.Optional(RunsSpread),
  },
  { additionalProperties: false },
);
export type MetricValue = Static<typeof MetricValue>;

/** `result.metrics` of a type: one entry per catalogue metric. */
export function metricsSchema(testType: TestType): TObject<Record<string, TSchema>> {
  const props = Object.fromEntries(MetricCatalog[testType].map((m) => [m.name, MetricValue]));
  return Type.Object(props, { additionalProperties: false });
}

/** `result.metrics` of an engine's result: every catalogue metric of the type with its unit. */
export function resultMetrics(testType: TestType, result: unknown): Record<string, MetricValue> {
  const values = extractMetrics(testType, result);
  return Object.fromEntries(
    MetricCatalog[testType].map((m) => [m.name, { value: values[m.name] ?? null, unit: m.unit }]),
  );
}
