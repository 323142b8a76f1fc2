import type {
  StressConfig,
  StressResult,
  StressSecond,
  StressShardJobData,
  StressShardTotals,
  ThresholdAbort,
} from '@crucible/contracts';
import { EngineError, abortReason } from '../../../errors.js';
import { roundMs } from '../../../stats.js';
import type { EngineContext } from '../../engine.js';
import { checkedTarget, egressOf } from '../../support.js';
import { addCounts, latencyHistogram, latencyOf, mergeHistograms, mergeSecond } from '../merge.js';
import type { ShardSecond } from '../merge.js';
import { planStress } from '../plan.js';
import type { StressLimits, StressPlan } from '../plan.js';
import { abortedResult, breachOf, stressResult } from '../result.js';
import { send, shardJobId, shardTopics } from './protocol.js';
import type { DownMessage, ShardCounts, ShardFanOut, UpMessage } from './protocol.js';

/** A shard silent this long (it says `alive` every second) is lost with its worker. */
export const SHARD_LOST_AFTER_MS = 3_000;
/** The agreed start is this far after the last shard said it was ready: time for `start` to reach all. */
const START_MARGIN_MS = 500;
/** A second is merged once every running shard reported it, or this long after it ended. */
const SECOND_GRACE_MS = 1_500;
/** A lost shard is replaced only if at least this much of the test is left. */
const MIN_REPLACEMENT_SEC = 2;
/** Shards' drain (5 s, as unsharded) plus the last reports' way back. */
const END_GRACE_MS = 8_000;
const LOOP_MS = 100;
/** After an `abortOnFail` breach, how long shards have to report what they counted. */
const ABORT_GRACE_MS = 3_000;

/** One job of one shard: the first, or a replacement of a lost one. */
interface Try {
  shard: number;
  try: number;
  jobId: string;
  connections: number;
  worker: string | null;
  status: 'waiting' | 'running' | 'done' | 'lost';
  heardAt: number;
  seconds: Map<number, ShardSecond>;
  counts: ShardCounts;
  done?: Extract<UpMessage, { t: 'done' }>;
}

const noCounts = (): ShardCounts => ({ requests: 0, responses: 0, succeeded: 0, failed: 0, bytes: 0 });

/** `n` split into `parts` as evenly as can be, the larger parts first. */
export function split(n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0));
}

/** Shards a test runs: as asked, within `STRESS_MAX_SHARDS` and one connection each at least. */
export function shardCount(config: StressConfig, limits: StressLimits, connections: number): number {
  return Math.max(1, Math.min(config.shards ?? 1, limits.maxShards ?? 16, connections));
}

/**
 * A stress test split across `shards` worker jobs (DESIGN.md, "Distributed stress tests"): the
 * whole test is planned and capped once (`STRESS_MAX_CONNECTIONS`, `STRESS_MAX_DURATION_SEC`), its
 * connections and rate divided between the shards; they start together at one agreed instant once
 * every one is ready (or the test fails at the start deadline), report every second, and are
 * merged here — counters added, latency histograms added bucket by bucket — into the live stream
 * and the result. A shard that falls silent is replaced on another worker while time is left, else
 * the result is partial and names it.
 */
export async function runShardedStress(
  url: string,
  config: StressConfig,
  ctx: EngineContext,
  limits: StressLimits,
  fanOut: ShardFanOut,
): Promise<StressResult> {
  const target = checkedTarget(egressOf(ctx), url);
  const plan = planStress(config, limits, target);
  const run = new ShardedRun(url, config, ctx, limits, fanOut, plan);
  return run.run(target);
}

class ShardedRun {
  readonly #tries: Try[] = [];
  readonly #current = new Map<number, Try>();
  readonly #series: StressSecond[] = [];
  readonly #topics: { up: string; down: string };
  readonly #key: string;
  #startAt = 0;
  #failure: Error | null = null;
  #reportError: unknown = null;
  #reporting: Promise<void> = Promise.resolve();
  /** The `abortOnFail` threshold that failed on the merged figures, and when (epoch ms). */
  #breach: ThresholdAbort | null = null;
  #breachAt = 0;
  /** Merged seconds' requests, failures and latencies so far: what `abortOnFail` is judged on. */
  #liveRequests = 0;
  #liveFailed = 0;
  #liveLatency: ReturnType<typeof latencyHistogram> | null = null;

  constructor(
    private readonly url: string,
    private readonly config: StressConfig,
    private readonly ctx: EngineContext,
    private readonly limits: StressLimits,
    private readonly fanOut: ShardFanOut,
    private readonly plan: StressPlan,
  ) {
    this.#key = fanOut.nextKey();
    this.#topics = shardTopics(this.#key);
  }

  get #endAt(): number {
    return this.#startAt + this.plan.totalSec * 1000;
  }

  async run(target: URL): Promise<StressResult> {
    const { pubsub } = this.fanOut;
    const onUp = (payload: string) => this.#heard(JSON.parse(payload) as UpMessage);
    await pubsub.subscribe(this.#topics.up, onUp);
    try {
      const shards = shardCount(this.config, this.limits, this.plan.connections);
      const parts = split(this.plan.connections, shards);
      const readyBy = Date.now() + (this.limits.shardStartTimeoutMs ?? 15_000);
      await this.#add(
        parts.map((connections, i) => this.#newTry(i + 1, 1, connections)),
        readyBy,
      );
      await this.#barrier(readyBy, shards);
      this.#startAt = Date.now() + START_MARGIN_MS;
      await this.#say({ t: 'start', at: this.#startAt });
      await this.#watch();
    } catch (err) {
      const reason = this.ctx.signal.aborted ? abortReason(this.ctx.signal) : err;
      await this.#stopAll(reason instanceof Error ? reason.message : String(reason));
      throw reason;
    } finally {
      this.#liveLatency?.destroy();
      await pubsub.unsubscribe(this.#topics.up, onUp).catch(() => {});
    }
    return this.#result(target);
  }

  #newTry(shard: number, attempt: number, connections: number): Try {
    const t: Try = {
      shard,
      try: attempt,
      jobId: shardJobId(this.#key, shard, attempt),
      connections,
      worker: null,
      status: 'waiting',
      heardAt: Date.now(),
      seconds: new Map(),
      counts: noCounts(),
    };
    this.#tries.push(t);
    this.#current.set(shard, t);
    return t;
  }

  async #add(tries: Try[], readyBy: number, extra: Partial<StressShardJobData> = {}): Promise<void> {
    const shards = this.#current.size;
    const { rate, connections } = this.plan;
    await this.fanOut.add(
      tries.map((t) => ({
        testId: this.fanOut.testId,
        jobId: this.fanOut.jobId,
        key: this.#key,
        shard: t.shard,
        shards,
        try: t.try,
        url: this.url,
        config: this.config as Record<string, unknown>,
        connections: t.connections,
        // The rate divided as the connections are.
        rate: rate === null ? null : (rate * t.connections) / connections,
        totalSec: this.plan.totalSec,
        readyBy,
        ...extra,
      })),
    );
  }

  #say(message: DownMessage): Promise<void> {
    return send(this.fanOut.pubsub, this.#topics.down, message);
  }

  #heard(message: UpMessage): void {
    const t = this.#tries.find((x) => x.shard === message.shard && x.try === message.try);
    if (!t || t.status === 'lost' || t.status === 'done') {
      // A job no longer wanted (given up on, replaced): it stops.
      if (message.t === 'ready' || message.t === 'alive')
        void this.#say({
          t: 'stop',
          reason: 'this shard is no longer part of the test',
          shard: message.shard,
          try: message.try,
        }).catch(() => {});
      return;
    }
    t.heardAt = Date.now();
    if (message.t === 'ready') {
      t.worker = message.worker;
      t.status = 'running';
    } else if (message.t === 'second') {
      t.seconds.set(message.point.second, message.point);
      t.counts = message.counts;
    } else if (message.t === 'done') {
      t.done = message;
      t.counts = message.counts;
      t.status = 'done';
    } else if (message.t === 'failed') {
      this.#failure ??= new EngineError(
        message.code as EngineError['code'],
        `shard ${message.shard}: ${message.message}`,
      );
    }
  }

  /** Waits until every shard is ready; past `readyBy` the test fails and every shard stops. */
  async #barrier(readyBy: number, shards: number): Promise<void> {
    for (;;) {
      this.#throwIfEnded();
      const ready = [...this.#current.values()].filter((t) => t.status === 'running').length;
      if (ready === shards) return;
      if (Date.now() >= readyBy) {
        throw new EngineError(
          'SHARDS_NOT_STARTED',
          `only ${ready} of ${shards} shards found a worker within ${Math.round((this.limits.shardStartTimeoutMs ?? 15_000) / 1000)} s; the test did not start (scale the workers or ask for fewer shards)`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, LOOP_MS));
    }
  }

  #throwIfEnded(): void {
    if (this.ctx.signal.aborted) throw abortReason(this.ctx.signal);
    if (this.#failure) throw this.#failure;
    if (this.#reportError) throw this.#reportError as Error;
  }

  /** From the start to the end: merges each second, replaces lost shards, tells the shards it is alive. */
  async #watch(): Promise<void> {
    let saidAliveAt = 0;
    for (;;) {
      this.#throwIfEnded();
      const now = Date.now();
      if (now - saidAliveAt >= 1_000) {
        saidAliveAt = now;
        await this.#say({ t: 'alive' });
      }
      if (!this.#breach) await this.#findLost(now);
      const breached = this.#breach !== null;
      this.#mergeSeconds(now);
      if (!breached && this.#breach) {
        this.#breachAt = now;
        // Every shard ends its load now and reports what it counted.
        await this.#say({ t: 'end', reason: `threshold ${JSON.stringify(this.#breach.threshold)} failed` });
      }
      const current = [...this.#current.values()];
      const settled = current.every((t) => t.status === 'done' || t.status === 'lost');
      if (this.#breach && (settled || now >= this.#breachAt + ABORT_GRACE_MS)) break;
      if ((settled && now >= this.#endAt) || now >= this.#endAt + END_GRACE_MS) break;
      await new Promise((resolve) => setTimeout(resolve, LOOP_MS));
    }
    for (const t of this.#current.values()) if (t.status !== 'done') t.status = 'lost';
    this.#mergeSeconds(Number.POSITIVE_INFINITY);
    await this.#reporting;
    this.#throwIfEnded();
  }

  async #findLost(now: number): Promise<void> {
    for (const t of [...this.#current.values()]) {
      if (t.status === 'done' || t.status === 'lost') continue;
      if (now - t.heardAt <= SHARD_LOST_AFTER_MS) continue;
      t.status = 'lost';
      const leftSec = (this.#endAt - now) / 1000;
      if (leftSec < MIN_REPLACEMENT_SEC) continue;
      // Another worker takes its part of the load for the rest of the test.
      const next = this.#newTry(t.shard, t.try + 1, t.connections);
      await this.#add([next], this.#endAt, {
        startAt: this.#startAt,
        ...(t.worker ? { avoidWorkers: [t.worker] } : {}),
      });
    }
  }

  /** Merges and publishes each second that every running shard reported, or whose grace is over. */
  #mergeSeconds(now: number): void {
    for (;;) {
      const second = this.#series.length + 1;
      // After a breach the series ends at the second that breached; the shards' totals hold the rest.
      if (second > this.plan.totalSec || this.#breach) return;
      const endedAt = this.#startAt + second * 1000;
      const waiting = [...this.#current.values()].some(
        (t) => t.status === 'running' && !t.seconds.has(second),
      );
      if (now < endedAt || (waiting && now < endedAt + SECOND_GRACE_MS)) return;
      const parts = this.#tries.flatMap((t) => {
        const part = t.seconds.get(second);
        return part ? [part] : [];
      });
      const point = mergeSecond(second, parts);
      this.#series.push(point);
      this.#publish(point);
      this.#judgeLive(point, parts);
    }
  }

  /** Judges the `abortOnFail` thresholds on the merged figures up to `point`'s second. */
  #judgeLive(point: StressSecond, parts: readonly ShardSecond[]): void {
    const abortOn = this.ctx.abortOnFail;
    if (!abortOn || abortOn.length === 0) return;
    this.#liveRequests += point.requests;
    this.#liveFailed += point.errors;
    const latencies = (this.#liveLatency ??= latencyHistogram());
    const second = mergeHistograms(parts.map((p) => p.histogram));
    latencies.add(second);
    second.destroy();
    this.#breach = breachOf(
      abortOn,
      this.#liveRequests,
      this.#liveFailed,
      () => latencyOf(latencies),
      point.second,
    );
  }

  #publish(point: StressSecond): void {
    const { totalSec } = this.plan;
    const live = {
      ...point,
      elapsedSec: point.second,
      durationSec: totalSec,
      totalRequests: this.#series.reduce((n, p) => n + p.requests, 0),
    };
    // In order, never holding up the merge; the first failure ends the test.
    this.#reporting = this.#reporting.then(async () => {
      try {
        await this.ctx.progress(Math.min(99, Math.round((100 * point.second) / totalSec)), 'load', live);
        await this.ctx.stressStats?.(live);
      } catch (err) {
        this.#reportError ??= err;
      }
    });
  }

  async #stopAll(reason: string): Promise<void> {
    await this.#say({ t: 'stop', reason }).catch(() => {});
    const waiting = this.#tries.filter((t) => t.status === 'waiting').map((t) => t.jobId);
    if (waiting.length > 0) await this.fanOut.remove(waiting).catch(() => {});
  }

  #result(target: URL): StressResult {
    const counts = noCounts();
    const statusCodes: Record<string, number> = {};
    const errors: Record<string, number> = {};
    const latencies: string[] = [];
    const shards: StressShardTotals[] = [];
    let durationSec = 0;
    for (const t of this.#tries) {
      for (const key of Object.keys(counts) as (keyof ShardCounts)[]) counts[key] += t.counts[key];
      // A finished shard's own totals; a lost one's, what it reported second by second until then.
      const own = t.done
        ? { statusCodes: t.done.statusCodes, errors: t.done.errors, latencies: [t.done.latencies] }
        : lostFigures(t);
      addCounts(statusCodes, own.statusCodes);
      addCounts(errors, own.errors);
      latencies.push(...own.latencies);
      if (t.done) durationSec = Math.max(durationSec, t.done.durationSec);
      const mine = mergeHistograms(own.latencies);
      const ranSec = t.done ? t.done.durationSec : Math.max(1, t.seconds.size);
      shards.push({
        shard: t.shard,
        try: t.try,
        worker: t.worker ?? 'none',
        status: t.done ? 'completed' : 'lost',
        connections: t.connections,
        requests: t.counts.requests,
        failed: t.counts.failed,
        rps: roundMs(t.counts.requests / ranSec),
        p95: latencyOf(mine)?.p95 ?? null,
      });
      mine.destroy();
    }
    const merged = mergeHistograms(latencies);
    const latency = latencyOf(merged);
    merged.destroy();
    const lostShards = [...this.#current.values()].filter((t) => !t.done).map((t) => t.shard);
    const figures = { ...counts, statusCodes, errors, series: this.#series, latency: () => latency };
    const duration = roundMs(durationSec || this.plan.totalSec);
    return abortedResult(
      { ...stressResult(target, this.plan, figures, duration, this.config.thresholds), shards, lostShards },
      this.#breach,
    );
  }
}

/** What a lost shard reported before it fell silent: its seconds' counts and latencies. */
function lostFigures(t: Try) {
  const statusCodes: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const latencies: string[] = [];
  for (const s of t.seconds.values()) {
    addCounts(statusCodes, s.statusCodes);
    addCounts(errors, s.errorsByKind);
    latencies.push(s.histogram);
  }
  return { statusCodes, errors, latencies };
}
