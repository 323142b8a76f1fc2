import { liveBreach } from '@crucible/contracts';
import type {
  AbortThreshold,
  MetricValues,
  StressConfig,
  StressLatency,
  StressResult,
  StressThresholdVerdict,
  ThresholdAbort,
} from '@crucible/contracts';
import { roundMs } from '../../stats.js';
import type { StressPlan } from './plan.js';

/** What a run counted, by one process (its tally) or merged from its shards. */
export interface StressFigures {
  requests: number;
  responses: number;
  succeeded: number;
  failed: number;
  bytes: number;
  statusCodes: Record<string, number>;
  errors: Record<string, number>;
  series: StressResult['series'];
  latency(): StressLatency | null;
}

/** The verdict on each threshold that was set, in a fixed order. */
function judge(
  t: NonNullable<StressConfig['thresholds']>,
  latency: StressLatency | null,
  errorRatePct: number,
  rps: number,
): StressThresholdVerdict[] {
  const thresholds: StressThresholdVerdict[] = [];
  /** `actual` is null when nothing was measured (no response, no latency): the threshold fails. */
  const verdict = (
    name: StressThresholdVerdict['name'],
    limit: number | undefined,
    actual: number | null,
    ok: (a: number, l: number) => boolean,
  ) => {
    if (limit !== undefined)
      thresholds.push({ name, limit, actual, passed: actual !== null && ok(actual, limit) });
  };
  verdict('p95Ms', t.p95Ms, latency?.p95 ?? null, (a, l) => a <= l);
  verdict('p99Ms', t.p99Ms, latency?.p99 ?? null, (a, l) => a <= l);
  verdict('errorRatePct', t.errorRatePct, errorRatePct, (a, l) => a <= l);
  verdict('minRps', t.minRps, rps, (a, l) => a >= l);
  return thresholds;
}

/** The result of a run that lasted `durationSec`, judged by the config's thresholds. */
export function stressResult(
  target: URL,
  plan: StressPlan,
  tally: StressFigures,
  durationSec: number,
  thresholdConfig: StressConfig['thresholds'],
): StressResult {
  const { responses, succeeded, failed, bytes, statusCodes, errors, series } = tally;
  const requests = tally.requests;
  const errorRatePct = requests === 0 ? 0 : roundMs((100 * failed) / requests);
  const latency = tally.latency();
  const rps = roundMs(requests / Math.max(durationSec, 0.001));
  const thresholds = judge(thresholdConfig ?? {}, latency, errorRatePct, rps);
  const passed = thresholds.every((v) => v.passed);
  const { mode, method, connections, totalSec, rampUpSec, rate, capped } = plan;
  return {
    url: target.toString(),
    mode,
    method,
    limits: { connections, durationSec: totalSec, rampUpSec, rate, capped },
    totals: { requests, responses, succeeded, failed, bytes, durationSec, rps },
    latency,
    statusCodes,
    errors,
    errorRatePct,
    series,
    thresholds,
    passed,
    summary: { requests, rps, p95: latency?.p95 ?? null, errorRatePct, passed },
  };
}

/**
 * The stress metrics (metrics.ts) over the load so far, `elapsedSec` into it: what `abortOnFail`
 * thresholds are judged on once a second, as the final result's are judged at the end.
 */
export function liveMetrics(
  requests: number,
  failed: number,
  latency: StressLatency | null,
  elapsedSec: number,
): MetricValues {
  return {
    'latency.p50': latency?.p50 ?? null,
    'latency.p95': latency?.p95 ?? null,
    'latency.p99': latency?.p99 ?? null,
    rps: roundMs(requests / Math.max(elapsedSec, 0.001)),
    'errors.rate': requests === 0 ? null : failed / requests,
    'requests.total': requests,
  };
}

/** The first `abortOnFail` threshold the live figures fail, or null (none set, or all hold). */
export function breachOf(
  abortOn: readonly AbortThreshold[] | undefined,
  requests: number,
  failed: number,
  latency: () => StressLatency | null,
  elapsedSec: number,
): ThresholdAbort | null {
  if (!abortOn || abortOn.length === 0) return null;
  return liveBreach(abortOn, liveMetrics(requests, failed, latency(), elapsedSec), elapsedSec);
}

/** A result whose load an `abortOnFail` threshold stopped: partial, failed, and saying why. */
export function abortedResult(result: StressResult, aborted: ThresholdAbort | null): StressResult {
  if (!aborted) return result;
  return { ...result, aborted, passed: false, summary: { ...result.summary, passed: false } };
}
