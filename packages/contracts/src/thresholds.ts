import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import type { StressConfig, TestType } from './catalog.js';
import { metricNames, metricSpec } from './metrics.js';
import type { MetricValues } from './metrics.js';

/**
 * The threshold language (issue 21): `"<metric> <op> <number>"`, one language for every test type,
 * e.g. `"latency.p95 < 300"`, `"score >= 80"`, `"findings.high == 0"`. The metric must be one of the
 * type's catalogue (metrics.ts): a threshold naming a metric the type does not have is refused at
 * submission, never silently passed.
 */

/** Comparison operators, longest first so `<=` is not read as `<`. */
export const THRESHOLD_OPERATORS = ['<=', '>=', '==', '!=', '<', '>'] as const;
export type ThresholdOperator = (typeof THRESHOLD_OPERATORS)[number];

/** Thresholds one test may carry. */
export const MAX_THRESHOLDS = 20;

export interface Threshold {
  metric: string;
  op: ThresholdOperator;
  limit: number;
}

/** A threshold that cannot be read or names no metric of the type; `expression` is the bad one. */
export class InvalidThresholdError extends Error {
  readonly code = 'INVALID_THRESHOLD';
  constructor(
    readonly expression: string,
    reason: string,
  ) {
    super(`threshold ${JSON.stringify(expression)}: ${reason}`);
  }
}

// Common misspellings of an operator are matched too, so the error can name them.
const SHAPE = /^\s*(\S+?)\s*(===|!==|<=|>=|==|!=|<>|=<|=>|<|>|=|!)\s*(\S.*?)?\s*$/;
const METRIC = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/;
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function parseLimit(expression: string, text: string | undefined): number {
  if (text === undefined) throw new InvalidThresholdError(expression, 'a number must follow the operator');
  const limit = NUMBER.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(limit))
    throw new InvalidThresholdError(expression, `${JSON.stringify(text)} is not a number`);
  return limit;
}

/** Reads one expression; throws {@link InvalidThresholdError} saying what is wrong with it. */
export function parseThreshold(expression: string): Threshold {
  const match = typeof expression === 'string' && expression.length <= 200 ? SHAPE.exec(expression) : null;
  if (!match) {
    throw new InvalidThresholdError(
      String(expression),
      `expected "<metric> <op> <number>" with op one of ${THRESHOLD_OPERATORS.join(' ')}`,
    );
  }
  const [, metric, op, limit] = match as unknown as [string, string, string, string | undefined];
  if (!METRIC.test(metric))
    throw new InvalidThresholdError(expression, `${JSON.stringify(metric)} is not a metric name`);
  if (!(THRESHOLD_OPERATORS as readonly string[]).includes(op)) {
    throw new InvalidThresholdError(
      expression,
      `unknown operator ${JSON.stringify(op)} (one of ${THRESHOLD_OPERATORS.join(' ')})`,
    );
  }
  return { metric, op: op as ThresholdOperator, limit: parseLimit(expression, limit) };
}

/** The canonical text of a threshold: what {@link parseThreshold} reads back as the same threshold. */
export function formatThreshold(t: Threshold): string {
  return `${t.metric} ${t.op} ${Object.is(t.limit, -0) ? '-0' : String(t.limit)}`;
}

/**
 * Checks a submission's thresholds against the type's metric catalogue: at most
 * {@link MAX_THRESHOLDS}, each readable and naming a metric of the type.
 */
export function validateThresholds(testType: TestType, expressions: readonly string[]): Threshold[] {
  if (expressions.length > MAX_THRESHOLDS) {
    throw new InvalidThresholdError(
      String(expressions[MAX_THRESHOLDS]),
      `at most ${MAX_THRESHOLDS} thresholds, ${expressions.length} given`,
    );
  }
  return expressions.map((expression) => {
    const t = parseThreshold(expression);
    if (!metricSpec(testType, t.metric)) {
      throw new InvalidThresholdError(
        expression,
        `${testType} tests have no metric ${JSON.stringify(t.metric)}`,
      );
    }
    return t;
  });
}

/** The problem detail of a bad threshold: what is wrong and which metrics the type has. */
export function invalidThresholdDetail(testType: TestType, err: InvalidThresholdError): string {
  return `${err.message}. Metrics of ${testType} tests: ${metricNames(testType).join(', ')}`;
}

/** Stress's `config.thresholds` in the threshold language, in the engine's order. */
export function stressConfigThresholds(t: StressConfig['thresholds']): string[] {
  if (!t) return [];
  const out: Threshold[] = [];
  if (t.p95Ms !== undefined) out.push({ metric: 'latency.p95', op: '<=', limit: t.p95Ms });
  if (t.p99Ms !== undefined) out.push({ metric: 'latency.p99', op: '<=', limit: t.p99Ms });
  if (t.errorRatePct !== undefined)
    out.push({ metric: 'errors.rate', op: '<=', limit: t.errorRatePct / 100 });
  if (t.minRps !== undefined) out.push({ metric: 'rps', op: '>=', limit: t.minRps });
  return out.map(formatThreshold);
}

const holds: Record<ThresholdOperator, (actual: number, limit: number) => boolean> = {
  '<': (a, l) => a < l,
  '<=': (a, l) => a <= l,
  '>': (a, l) => a > l,
  '>=': (a, l) => a >= l,
  '==': (a, l) => a === l,
  '!=': (a, l) => a !== l,
};

export const ThresholdResult = Type.Object(
  {
    expression: Type.String(),
    metric: Type.String(),
    op: Type.Union(THRESHOLD_OPERATORS.map((op) => Type.Literal(op))),
    limit: Type.Number(),
    /** The metric's value; null when nothing was measured, and the threshold fails. */
    actual: Type.Union([Type.Number(), Type.Null()]),
    passed: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type ThresholdResult = Static<typeof ThresholdResult>;

/** Each expression judged against the measured metrics, in the order given. */
export function evaluateThresholds(expressions: readonly string[], metrics: MetricValues): ThresholdResult[] {
  return expressions.map((expression) => {
    const { metric, op, limit } = parseThreshold(expression);
    const actual = metrics[metric] ?? null;
    return { expression, metric, op, limit, actual, passed: actual !== null && holds[op](actual, limit) };
  });
}

/**
 * A threshold that stops its test when it fails (k6's `abortOnFail`): judged on the live figures
 * once a second, from `delayAbortEvalSec` into the load on. Only stress tests have live figures.
 */
export const AbortThreshold = Type.Object(
  {
    expression: Type.String(),
    /** Seconds of load before it is judged live (k6's `delayAbortEval`). @defaultValue 0 */
    delayAbortEvalSec: Type.Optional(Type.Number({ minimum: 0, maximum: 86_400 })),
  },
  { additionalProperties: false },
);
export type AbortThreshold = Static<typeof AbortThreshold>;

/** Why a test stopped early: the `abortOnFail` threshold that failed, when, and on what value. */
export const ThresholdAbort = Type.Object(
  {
    threshold: Type.String(),
    /** Seconds into the load. */
    atSec: Type.Number(),
    actual: Type.Union([Type.Number(), Type.Null()]),
  },
  { additionalProperties: false },
);
export type ThresholdAbort = Static<typeof ThresholdAbort>;

/** Test types whose thresholds may abort the test: those judged live, once a second. */
export const LIVE_JUDGED_TYPES: readonly TestType[] = ['stress'];

/** `"5s"`, `"500ms"`, `"1m"` (k6's durations) in seconds; NaN when not one. */
export function parseDelaySec(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)\s*$/.exec(text);
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : m[2] === 'm' ? n * 60 : n;
}

/**
 * The first `abortOnFail` threshold the live metrics fail `elapsedSec` into the load (past its
 * delay), or null. A metric not measured yet (null) does not abort: nothing has failed yet.
 */
export function liveBreach(
  abortOn: readonly AbortThreshold[],
  metrics: MetricValues,
  elapsedSec: number,
): ThresholdAbort | null {
  for (const a of abortOn) {
    if (elapsedSec < (a.delayAbortEvalSec ?? 0)) continue;
    const { metric, op, limit } = parseThreshold(a.expression);
    const actual = metrics[metric] ?? null;
    if (actual !== null && !holds[op](actual, limit))
      return { threshold: a.expression, atSec: Math.round(elapsedSec * 10) / 10, actual };
  }
  return null;
}
