import { DelayedError } from 'bullmq';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { PubSub, StressShardJobData } from '@crucible/contracts';
import type { ShardQueue, WorkerRegistry } from '@crucible/backplane';
import type { ShardEngine } from '../engines/engine.js';
import { shardJobId } from '../engines/stress/shards/protocol.js';
import type { ShardFanOut } from '../engines/stress/shards/protocol.js';
import type { ShardOutcome } from '../engines/stress/shards/shard.js';

/** What shards go through: their queue and the bus between them and their test. */
export interface ShardTransport {
  queue: ShardQueue;
  pubsub: PubSub;
}

/** The fan-out of one attempt of a test's job: keys unique to the attempt and each run within it. */
export function fanOutFor(
  transport: ShardTransport,
  job: { testId: string; jobId: string },
  attempt: number,
): ShardFanOut {
  let fanOuts = 0;
  return {
    testId: job.testId,
    jobId: job.jobId,
    nextKey: () => `${job.jobId}-a${attempt}-n${++fanOuts}`,
    async add(jobs) {
      await transport.queue.addBulk(
        jobs.map((data) => ({
          name: 'shard',
          data,
          // The test replaces a lost shard itself, on the test's clock: BullMQ never retries one.
          opts: {
            jobId: shardJobId(data.key, data.shard, data.try),
            attempts: 1,
            removeOnComplete: { count: 100 },
            removeOnFail: { count: 100 },
          },
        })),
      );
    },
    async remove(jobIds) {
      await Promise.all(jobIds.map((id) => transport.queue.remove(id).catch(() => 0)));
    },
    pubsub: transport.pubsub,
  };
}

/** How long a shard that should run elsewhere waits before it is offered again. */
const SPREAD_RETRY_MS = 200;

/**
 * The shards this process runs, by test: so a cancel heard here stops them at once, and so the
 * spread rule can count them.
 */
export class LocalShards {
  readonly #running = new Map<string, { key: string; testId: string; controller: AbortController }>();

  countOf(key: string): number {
    let n = 0;
    for (const s of this.#running.values()) if (s.key === key) n++;
    return n;
  }

  add(jobId: string, key: string, testId: string): AbortController {
    const controller = new AbortController();
    this.#running.set(jobId, { key, testId, controller });
    return controller;
  }

  delete(jobId: string): void {
    this.#running.delete(jobId);
  }

  /** Aborts every shard of `testId` running here; how many. */
  abortTest(testId: string, reason: unknown): number {
    let n = 0;
    for (const s of this.#running.values()) {
      if (s.testId !== testId) continue;
      s.controller.abort(reason);
      n++;
    }
    return n;
  }
}

/**
 * The consumer of shard jobs. Shards spread over the workers: a process runs at most
 * ceil(shards / live workers) of one test's first shards, and hands the rest back for a moment
 * so that another worker takes them; a replacement never runs on the worker whose loss it replaces.
 */
export function createShardProcessor(deps: {
  engine: ShardEngine;
  pubsub: PubSub;
  workerId: string;
  registry: WorkerRegistry;
  local: LocalShards;
  logger: Logger;
}): (job: Job<StressShardJobData>, token?: string, signal?: AbortSignal) => Promise<ShardOutcome> {
  const { engine, pubsub, workerId, registry, local, logger } = deps;
  return async (job, token, signal) => {
    const data = job.data;
    if (Date.now() > data.readyBy) return 'stopped';
    let elsewhere = data.avoidWorkers?.includes(workerId) ?? false;
    if (!elsewhere && data.try === 1) {
      const live = (await registry.live()).filter((w) => (w.slots?.tests ?? 0) > 0).length;
      elsewhere = local.countOf(data.key) >= Math.ceil(data.shards / Math.max(1, live));
    }
    if (elsewhere) {
      await job.moveToDelayed(
        Date.now() + SPREAD_RETRY_MS + Math.floor(Math.random() * SPREAD_RETRY_MS),
        token,
      );
      throw new DelayedError();
    }
    const controller = local.add(job.id!, data.key, data.testId);
    const onAbort = () => controller.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const log = logger.child({ testId: data.testId, shard: data.shard, try: data.try });
    try {
      log.info('shard started');
      const outcome = await engine(data, { signal: controller.signal, pubsub, workerId });
      log.info({ outcome }, 'shard ended');
      return outcome;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      local.delete(job.id!);
    }
  };
}
