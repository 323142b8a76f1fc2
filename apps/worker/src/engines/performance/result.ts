import type { PerformanceIteration, PerformanceResult, PhaseSummary } from '@crucible/contracts';
import type { RequestTimings } from '@crucible/egress';
import { roundMs, summarize } from '../../stats.js';
import type { OkIteration } from './iterations.js';
import type { PageResources } from './resources.js';
import { scorePerformance } from './score.js';

export type TimingPhase = keyof RequestTimings;

const PHASES: readonly TimingPhase[] = ['dns', 'connect', 'tls', 'ttfb', 'download', 'total'];

/** What was measured, before it is summed up and scored. */
export interface PerformanceMeasurements extends PageResources {
  target: URL;
  /** Requests asked for. */
  count: number;
  iterations: PerformanceIteration[];
  /** The iterations that succeeded, at least one; the first is the document judged. */
  succeeded: OkIteration[];
  finalUrl: string;
  /** Bytes of the first document once decompressed. */
  decodedBytes: number;
}

/** Median/p95 of every timing phase over the requests that succeeded. */
function phaseSummary(succeeded: OkIteration[]): Record<TimingPhase, PhaseSummary> {
  return Object.fromEntries(
    PHASES.map((phase) => [phase, summarize(succeeded.map((it) => it.timings[phase]))]),
  ) as Record<TimingPhase, PhaseSummary>;
}

/** The result of a run: timings summed up, status codes counted, the page scored. */
export function performanceResult(m: PerformanceMeasurements): PerformanceResult {
  const { target, count, iterations, succeeded, finalUrl, decodedBytes, resources, limits } = m;
  const first = succeeded[0]!;
  const statusCodes: Record<string, number> = {};
  for (const it of succeeded) statusCodes[it.status] = (statusCodes[it.status] ?? 0) + 1;
  const summary = phaseSummary(succeeded);
  const isText = /html|text|json|javascript|xml|css/i.test(first.contentType ?? '');
  const { score, factors } = scorePerformance({
    ttfbMedian: roundMs(summary.ttfb.median),
    totalMedian: roundMs(summary.total.median),
    pageBytes: first.bytes + resources.total.bytes,
    requestCount: 1 + resources.total.count,
    compressed: first.contentEncoding !== null || !isText || decodedBytes < 1024,
    allOk:
      succeeded.length === count && succeeded.every((it) => it.status < 400) && resources.total.failed === 0,
  });
  return {
    url: target.toString(),
    finalUrl,
    iterations,
    summary,
    statusCodes,
    requests: { total: count, succeeded: succeeded.length, failed: count - succeeded.length },
    bytes: first.bytes,
    decodedBytes,
    contentEncoding: first.contentEncoding,
    contentType: first.contentType,
    httpVersion: first.httpVersion,
    resources,
    score,
    scoreFactors: factors,
    limits,
  };
}
