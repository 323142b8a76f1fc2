import type { PerformanceConfig, PerformanceResult } from '@crucible/contracts';
import { decodeBody } from '@crucible/egress';
import { EngineError } from '../errors.js';
import type { EngineContext } from './engine.js';
import { checkedTarget, egressOf } from './support.js';
import { PERFORMANCE_MAX_BODY_BYTES, timeRequests } from './performance/iterations.js';
import type { FailedIteration, OkIteration } from './performance/iterations.js';
import { measureResources } from './performance/resources.js';
import { performanceResult } from './performance/result.js';

export { PERFORMANCE_MAX_BODY_BYTES } from './performance/iterations.js';
export type { TimingPhase } from './performance/result.js';
export { scorePerformance } from './performance/score.js';

/**
 * Makes `iterations` timed GET requests to `url`, one after another, each on fresh connections
 * (so each pays DNS, connect and TLS, like a first visit), then fetches the resources the page
 * references. A failed request is recorded and the test goes on; only when every request failed
 * is there nothing to report (TARGET_UNREACHABLE). A refused target fails at once.
 */
export async function runPerformance(
  url: string,
  config: PerformanceConfig,
  ctx: EngineContext,
): Promise<PerformanceResult> {
  const egress = egressOf(ctx);
  const target = checkedTarget(egress, url);
  const count = config.iterations ?? 3;
  const timeoutMs = config.timeoutMs ?? 15_000;
  const { iterations, document } = await timeRequests(egress, target, count, timeoutMs, ctx);

  const succeeded = iterations.filter((it): it is OkIteration => it.ok);
  if (succeeded.length === 0 || !document) {
    const first = iterations[0] as FailedIteration;
    throw new EngineError(
      'TARGET_UNREACHABLE',
      `all ${count} requests to ${target.toString()} failed; first error: ${first.error}`,
    );
  }
  const decoded = decodeBody(document.body, document.encoding, PERFORMANCE_MAX_BODY_BYTES);
  const page = await measureResources(
    succeeded[0]!.contentType,
    decoded,
    document.finalUrl,
    egress,
    ctx,
    timeoutMs,
  );
  return performanceResult({
    target,
    count,
    iterations,
    succeeded,
    finalUrl: document.finalUrl,
    decodedBytes: decoded.length,
    ...page,
  });
}
