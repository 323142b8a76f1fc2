import type { PubSub, StressShardJobData } from '@crucible/contracts';
import type { ShardSecond } from '../merge.js';

/**
 * What a sharded stress test and its shards say to each other, on two pub/sub topics per fan-out
 * (DESIGN.md, "Distributed stress tests"): `up` from the shards, `down` from the test's job.
 */
export function shardTopics(key: string): { up: string; down: string } {
  return { up: `stress-shards:${key}:up`, down: `stress-shards:${key}:down` };
}

/** A shard's running totals. */
export interface ShardCounts {
  requests: number;
  responses: number;
  succeeded: number;
  failed: number;
  bytes: number;
}

interface From {
  shard: number;
  try: number;
}

/** From a shard to its test. */
export type UpMessage =
  /** Target checked, connector pinned: it can start at the agreed instant. */
  | (From & { t: 'ready'; worker: string })
  /** Every second, whatever it is doing: silence means its worker is gone. */
  | (From & { t: 'alive' })
  /** Second `point.second` since the agreed start, and the totals so far. */
  | (From & { t: 'second'; point: ShardSecond; counts: ShardCounts })
  /** Its load ended and drained: everything it counted, latencies included. */
  | (From & {
      t: 'done';
      counts: ShardCounts;
      statusCodes: Record<string, number>;
      errors: Record<string, number>;
      latencies: string;
      durationSec: number;
    })
  /** It cannot run (refused target, bad config): the test fails with this. */
  | (From & { t: 'failed'; code: string; message: string });

/** From the test to its shards. */
export type DownMessage =
  | { t: 'start'; at: number }
  /** The test goes on: shards that stop hearing it stop. */
  | { t: 'alive' }
  /** Every shard stops (cancel, abort, failure), or only `shard`'s try `try` (one no longer wanted). */
  | { t: 'stop'; reason: string; shard?: number; try?: number }
  /** Every shard ends its load now and reports what it counted (an `abortOnFail` threshold failed). */
  | { t: 'end'; reason: string };

/** Where a sharded test puts its shards: the processor binds it to the test's attempt. */
export interface ShardFanOut {
  testId: string;
  jobId: string;
  /** A key no other fan-out has (job, attempt and the run within it). */
  nextKey(): string;
  add(jobs: StressShardJobData[]): Promise<void>;
  /** Removes jobs not yet taken by a worker; those running are stopped by a `stop` message. */
  remove(jobIds: string[]): Promise<void>;
  pubsub: PubSub;
}

/** The job id of one try of one shard. */
export function shardJobId(key: string, shard: number, attempt: number): string {
  return `${key}-s${shard}-t${attempt}`;
}

export function send(pubsub: PubSub, topic: string, message: UpMessage | DownMessage): Promise<void> {
  return pubsub.publish(topic, JSON.stringify(message));
}
