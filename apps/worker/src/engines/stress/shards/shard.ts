import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { PubSub, StressConfig, StressShardJobData } from '@crucible/contracts';
import type { Egress } from '@crucible/egress';
import { EngineError, errorMessage } from '../../../errors.js';
import { pinnedConnect } from '../connect.js';
import { Load } from '../load.js';
import { planStress } from '../plan.js';
import { StressTally } from '../tally.js';
import { send, shardTopics } from './protocol.js';
import type { DownMessage, ShardCounts, UpMessage } from './protocol.js';

/** How long requests still in flight when the time is up may take to finish (as unsharded). */
const DRAIN_MS = 5_000;
/** A shard that hears nothing of its test for this long stops: the test's worker is gone. */
export const TEST_LOST_AFTER_MS = 6_000;

export interface ShardContext {
  /** Aborted by cancel (this worker heard it), shutdown or the worker losing the job. */
  signal: AbortSignal;
  pubsub: PubSub;
  /** This worker process: named in the test's per-shard totals. */
  workerId: string;
  http: Egress;
}

/** How a shard ended: its load ran and was reported, or it was told (or had) to stop first. */
export type ShardOutcome = 'done' | 'stopped';

function countsOf(tally: StressTally): ShardCounts {
  const { requests, responses, succeeded, failed, bytes } = tally;
  return { requests, responses, succeeded, failed, bytes };
}

/**
 * One shard of a sharded stress test: checks and pins the target with this worker's egress guard,
 * says it is ready, waits for the agreed instant, runs its part of the load on the test's clock
 * (second k ends at start + k s, in every shard alike) and reports each second's counters and
 * latencies, then everything it counted. Stops at once on a `stop`, an abort, or when its test
 * falls silent.
 */
export async function runShard(job: StressShardJobData, ctx: ShardContext): Promise<ShardOutcome> {
  const topics = shardTopics(job.key);
  const from = { shard: job.shard, try: job.try };
  const up = (message: UpMessage) => send(ctx.pubsub, topics.up, message).catch(() => {});
  const stopped = new AbortController();
  // Ended early by the test (abortOnFail): the load stops, and what it counted is still reported.
  const ending = new AbortController();
  let startAt = job.startAt;
  let heardAt = Date.now();
  let wakeStart: () => void = () => {};
  const onDown = (payload: string) => {
    const message = JSON.parse(payload) as DownMessage;
    heardAt = Date.now();
    if (message.t === 'start') {
      startAt ??= message.at;
      wakeStart();
    } else if (
      message.t === 'stop' &&
      (message.shard === undefined || (message.shard === job.shard && message.try === job.try))
    ) {
      stopped.abort(new EngineError('CANCELLED', message.reason));
    } else if (message.t === 'end') {
      ending.abort(new EngineError('ABORTED', message.reason));
    }
  };
  const onAbort = () => stopped.abort(ctx.signal.reason);
  if (ctx.signal.aborted) onAbort();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  await ctx.pubsub.subscribe(topics.down, onDown);
  const alive = setInterval(() => {
    void up({ ...from, t: 'alive' });
    if (Date.now() - heardAt > TEST_LOST_AFTER_MS)
      stopped.abort(new EngineError('ABORTED', 'the test stopped answering its shards'));
  }, 1_000);
  const connecting = new AbortController();
  setMaxListeners(job.connections + 10, connecting.signal);
  const onStop = () => connecting.abort(stopped.signal.reason);
  stopped.signal.addEventListener('abort', onStop, { once: true });
  try {
    let pinned: Awaited<ReturnType<typeof pinnedConnect>>;
    try {
      pinned = await pinnedConnect(ctx.http, job.url, connecting);
    } catch (err) {
      if (stopped.signal.aborted) return 'stopped';
      const code = err instanceof EngineError ? err.code : 'TARGET_UNREACHABLE';
      await up({ ...from, t: 'failed', code, message: errorMessage(err) });
      return 'stopped';
    }
    await up({ ...from, t: 'ready', worker: ctx.workerId });
    if (startAt === undefined) {
      const started = new Promise<void>((resolve) => (wakeStart = resolve));
      const giveUp = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, job.readyBy - Date.now()) + TEST_LOST_AFTER_MS);
        stopped.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
      await Promise.race([started, giveUp]);
    }
    if (startAt === undefined || stopped.signal.aborted) return 'stopped';
    return await runLoad(job, startAt, pinned, connecting, stopped.signal, up, ending.signal);
  } finally {
    clearInterval(alive);
    ctx.signal.removeEventListener('abort', onAbort);
    stopped.signal.removeEventListener('abort', onStop);
    await ctx.pubsub.unsubscribe(topics.down, onDown).catch(() => {});
  }
}

/** Sleeps until epoch ms `at`, or until `signal` aborts. */
function until(at: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, Math.max(0, at - Date.now()));
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The shard's part of the load from `startAt` (or from now, joining late) to the test's end. */
async function runLoad(
  job: StressShardJobData,
  startAt: number,
  pinned: Awaited<ReturnType<typeof pinnedConnect>>,
  connecting: AbortController,
  signal: AbortSignal,
  up: (message: UpMessage) => Promise<void>,
  ending: AbortSignal,
): Promise<ShardOutcome> {
  const from = { shard: job.shard, try: job.try };
  const { target, connect } = pinned;
  const config = { ...(job.config as StressConfig), connections: job.connections };
  const plan = {
    ...planStress(config, { maxConnections: job.connections, maxDurationSec: job.totalSec }, target),
    rate: job.rate,
  };
  await until(startAt, signal);
  if (signal.aborted) return 'stopped';
  const tally = new StressTally();
  const elapsedSec = () => (Date.now() - startAt) / 1000;
  // The load's own clock starts at the agreed instant, however late this shard joins.
  const started = performance.now() - (Date.now() - startAt);
  const load = new Load({ plan, origin: target.origin, connect, connecting, tally, started });
  const endAt = startAt + job.totalSec * 1000;
  let second = Math.max(1, Math.ceil(elapsedSec()));
  let tick: NodeJS.Timeout | undefined;
  let wake: () => void = () => {};
  const ended = new Promise<void>((resolve) => (wake = resolve));
  const onAbort = () => {
    load.abort(signal.reason);
    wake();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  const onEnd = () => {
    load.abort(ending.reason);
    wake();
  };
  if (ending.aborted) onEnd();
  else ending.addEventListener('abort', onEnd, { once: true });
  const closeSecond = () => {
    let histogram = '';
    const {
      p50: _p50,
      p95: _p95,
      p99: _p99,
      rps: _rps,
      ...point
    } = tally.closeSecond(load.connected, load.active, (encoded) => (histogram = encoded));
    void up({ ...from, t: 'second', point: { ...point, second, histogram }, counts: countsOf(tally) });
    load.schedule(elapsedSec());
    if (second >= job.totalSec) return wake();
    second++;
    tick = setTimeout(closeSecond, Math.max(0, startAt + second * 1000 - Date.now()));
  };
  const ramp = setInterval(() => load.schedule(elapsedSec()), 100);
  try {
    load.schedule(elapsedSec());
    load.start();
    if (Date.now() >= endAt) wake();
    else tick = setTimeout(closeSecond, Math.max(0, startAt + second * 1000 - Date.now()));
    await ended;
    load.stop();
    clearInterval(ramp);
    clearTimeout(tick);
    await load.drain(DRAIN_MS);
  } finally {
    load.stop();
    clearInterval(ramp);
    clearTimeout(tick);
    signal.removeEventListener('abort', onAbort);
    ending.removeEventListener('abort', onEnd);
    connecting.abort();
    await load.close();
  }
  if (signal.aborted) return 'stopped';
  tally.finish();
  await up({
    ...from,
    t: 'done',
    counts: countsOf(tally),
    statusCodes: tally.statusCodes,
    errors: tally.errors,
    latencies: tally.encodedLatencies(),
    durationSec: elapsedSec(),
  });
  return 'done';
}
