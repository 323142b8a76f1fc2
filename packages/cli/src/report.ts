import type { TestDetail } from '@crucible/contracts/api';
import { ExitCode } from './exit-codes.js';
import type { CheckReport, ComparisonReport, ThresholdReport } from './report-schema.js';
import type { CheckSpec } from './submission.js';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const list = (v: unknown): Json[] => (Array.isArray(v) ? v.map(obj) : []);

/** Stress's own config thresholds (`p95Ms`…), in the threshold language's shape. */
const LEGACY_OPS: Record<string, string> = { p95Ms: '<=', p99Ms: '<=', errorRatePct: '<=', minRps: '>=' };

export function thresholdsOf(result: unknown): ThresholdReport[] {
  return list(obj(result).thresholds).map((t) => {
    if (typeof t.expression === 'string') {
      return {
        expression: t.expression,
        metric: String(t.metric ?? ''),
        op: String(t.op ?? ''),
        limit: num(t.limit) ?? 0,
        actual: num(t.actual),
        passed: t.passed === true,
      };
    }
    const metric = String(t.name ?? '');
    const op = LEGACY_OPS[metric] ?? '<=';
    const limit = num(t.limit) ?? 0;
    return {
      expression: `${metric} ${op} ${limit}`,
      metric,
      op,
      limit,
      actual: num(t.actual),
      passed: t.passed === true,
    };
  });
}

function comparisonOf(result: unknown): ComparisonReport[] {
  return list(obj(result).comparison).map((c) => ({
    metric: String(c.metric ?? ''),
    baseline: num(c.baseline),
    current: num(c.current),
    changePct: num(c.changePct),
    verdict: String(c.verdict ?? 'unchanged'),
    confidence: num(c.confidence),
  }));
}

function metricsOf(result: unknown): CheckReport['metrics'] {
  const metrics: CheckReport['metrics'] = {};
  for (const [name, m] of Object.entries(obj(obj(result).metrics))) {
    const metric = obj(m);
    metrics[name] = { ...metric, value: num(metric.value), unit: String(metric.unit ?? '') };
  }
  return metrics;
}

/** The `abortOnFail` threshold that stopped the test early, if one did. */
function abortedOf(result: unknown): Pick<CheckReport, 'aborted'> {
  const a = obj(obj(result).aborted);
  if (typeof a.threshold !== 'string') return {};
  return { aborted: { threshold: a.threshold, atSec: num(a.atSec) ?? 0, actual: num(a.actual) } };
}

/** The exit code a finished test stands for. */
export function exitCodeOf(test: Pick<TestDetail, 'status' | 'verdict'>): ExitCode {
  if (test.status !== 'completed') return ExitCode.NO_RESULT;
  return test.verdict === 'failed' ? ExitCode.FAILED : ExitCode.PASSED;
}

/** One check's report from the finished test as the API returned it. */
export function reportOf(spec: CheckSpec, test: TestDetail, pageUrl: string): CheckReport {
  const started = test.startedAt ? Date.parse(test.startedAt) : NaN;
  const ended = test.completedAt ? Date.parse(test.completedAt) : NaN;
  return {
    id: test.testId,
    name: spec.name ?? test.name ?? `${test.testType} ${test.url}`,
    type: test.testType,
    target: test.url,
    status: test.status === 'queued' || test.status === 'running' ? 'timed-out' : test.status,
    verdict: test.verdict,
    exitCode: exitCodeOf(test),
    metrics: metricsOf(test.result),
    thresholds: thresholdsOf(test.result),
    ...abortedOf(test.result),
    comparison: comparisonOf(test.result),
    durationMs: Number.isFinite(started) && Number.isFinite(ended) ? ended - started : null,
    url: pageUrl,
    error: test.status === 'completed' ? null : (test.errorMessage ?? `the test was ${test.status}`),
  };
}

/** A check that ended without a finished test: refused, unreachable, timed out before the end. */
export function errorReport(
  spec: CheckSpec,
  error: { exitCode: ExitCode; message: string },
  test?: { id: string; url: string; timedOut: boolean },
): CheckReport {
  return {
    id: test?.id ?? null,
    name: spec.name ?? `${spec.type} ${spec.target}`,
    type: spec.type,
    target: spec.target,
    status: test ? (test.timedOut ? 'timed-out' : 'cancelled') : 'not-submitted',
    verdict: null,
    exitCode: error.exitCode,
    metrics: {},
    thresholds: [],
    comparison: [],
    durationMs: null,
    url: test?.url ?? null,
    error: error.message,
  };
}

/** The worst of several exit codes: the highest (4 unreachable > 3 no result > 2 usage > 1 failed > 0). */
export function worstExitCode(codes: number[]): ExitCode {
  return codes.reduce((a, b) => Math.max(a, b), 0) as ExitCode;
}
