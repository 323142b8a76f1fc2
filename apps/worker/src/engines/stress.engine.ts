import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { StressConfig, StressResult } from '@crucible/contracts';
import { abortReason } from '../errors.js';
import { roundMs } from '../stats.js';
import type { EngineContext } from './engine.js';
import { egressOf } from './support.js';
import { pinnedConnect } from './stress/connect.js';
import { Load } from './stress/load.js';
import { DEFAULT_STRESS_LIMITS, planStress } from './stress/plan.js';
import type { StressLimits } from './stress/plan.js';
import { abortedResult, breachOf, stressResult } from './stress/result.js';
import type { ThresholdAbort } from '@crucible/contracts';
import { StressTally } from './stress/tally.js';
import { runShardedStress, shardCount } from './stress/shards/coordinator.js';
import { checkedTarget } from './support.js';

export { DEFAULT_STRESS_LIMITS, activeUsers } from './stress/plan.js';
export type { StressLimits } from './stress/plan.js';

// Load comes from undici Clients, one per virtual user (so `connections` keep-alive sockets, one
// request at a time each, as autocannon opens), all dialling through the egress guard's pinned
// connector: the target is resolved and checked once and every connection goes to that address.
// Each request is a dispatch() with the user itself as handler: no promise, body stream, abort
// listener or header parsing per request, which brings the cost per request to autocannon's.
// Not autocannon's own client: it dials by host name with its own sockets (pinning would mean an
// IP literal plus a Host header, and it forces certificate checks off), reconnects at once in a
// tight loop when the target refuses, and holds one fixed number of connections (no ramp, steps or
// spike). Cancelling destroys every Client, which ends the requests in flight at once.

/** How long requests still in flight when the time is up may take to finish. */
const DRAIN_MS = 5_000;

/**
 * Generates load on one URL for the configured time and reports every second (rps, latency
 * percentiles, errors, status codes, connections) on `progress` and `stressStats`. Stops within
 * moments of an abort: every connection is destroyed, which ends the requests in flight at once.
 */
export async function runStress(
  url: string,
  config: StressConfig,
  ctx: EngineContext,
  limits: StressLimits = DEFAULT_STRESS_LIMITS,
): Promise<StressResult> {
  if (ctx.stressShards && (config.shards ?? 1) > 1) {
    const { connections } = planStress(config, limits, checkedTarget(egressOf(ctx), url));
    if (shardCount(config, limits, connections) > 1)
      return runShardedStress(url, config, ctx, limits, ctx.stressShards);
  }
  const connecting = new AbortController();
  // Each connection being opened listens on it: up to one per virtual user at once.
  setMaxListeners(limits.maxConnections + 10, connecting.signal);
  const { target, connect } = await pinnedConnect(egressOf(ctx), url, connecting);
  if (ctx.signal.aborted) throw abortReason(ctx.signal);

  const plan = planStress(config, limits, target);
  const { totalSec } = plan;
  const tally = new StressTally();
  const started = performance.now();
  const elapsedSec = () => (performance.now() - started) / 1000;
  const load = new Load({ plan, origin: target.origin, connect, connecting, tally, started });

  let wake: () => void = () => {};
  const ended = new Promise<void>((resolve) => (wake = resolve));
  const abort = (reason: unknown) => {
    if (load.aborted) return;
    load.abort(reason);
    wake();
  };
  const onAbort = () => abort(ctx.signal.reason);
  ctx.signal.addEventListener('abort', onAbort, { once: true });

  let breach: ThresholdAbort | null = null;
  let reportError: unknown = null;
  let reporting: Promise<void> = Promise.resolve();
  const tick = () => {
    const at = elapsedSec();
    const point = tally.closeSecond(load.connected, load.active);
    breach ??= breachOf(ctx.abortOnFail, tally.requests, tally.failed, () => tally.latency(), at);
    if (breach) {
      // An abortOnFail threshold failed: the load stops now, requests in flight uncounted.
      abort(new Error(`threshold ${JSON.stringify(breach.threshold)} failed; the test was stopped`));
    } else load.schedule(at);
    const live = {
      ...point,
      elapsedSec: Math.round(at),
      durationSec: totalSec,
      totalRequests: tally.requests,
    };
    // Reports go out in order, never holding up the load; the first failure ends the run.
    reporting = reporting.then(async () => {
      try {
        await ctx.progress(Math.min(99, Math.round((100 * at) / totalSec)), 'load', live);
        await ctx.stressStats?.(live);
      } catch (err) {
        reportError ??= err;
        abort(err);
      }
    });
  };
  const ramp = setInterval(() => load.schedule(elapsedSec()), 100);
  const ticker = setInterval(tick, 1000);
  const timeUp = setTimeout(wake, totalSec * 1000);

  try {
    load.start();
    await ended;
    load.stop();
    clearInterval(ramp);
    clearInterval(ticker);
    await load.drain(DRAIN_MS);
    await reporting;
  } finally {
    load.stop();
    clearTimeout(timeUp);
    clearInterval(ramp);
    clearInterval(ticker);
    ctx.signal.removeEventListener('abort', onAbort);
    connecting.abort();
    await load.close();
  }
  tally.finish();
  if (ctx.signal.aborted) throw abortReason(ctx.signal);
  if (reportError) throw reportError;
  return abortedResult(stressResult(target, plan, tally, roundMs(elapsedSec()), config.thresholds), breach);
}
