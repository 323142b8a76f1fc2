import { TestCatalog, toBullPriority } from './catalog.js';
import type { TestJobData, TestQueueName, TestType } from './catalog.js';
import type { Judging } from './judging.js';

/**
 * The BullMQ job id of a test's run: the test id for the first run, `{testId}-r{run}` for manual
 * re-runs (BullMQ ignores an add whose id exists, and the old run's job may still be held).
 * Adding the same run twice is a no-op, which makes re-enqueueing idempotent.
 */
export function jobIdOf(testId: string, run: number): string {
  return run === 0 ? testId : `${testId}-r${run}`;
}

/** Completed and failed jobs kept in Redis; PostgreSQL keeps every test until cleanup. */
export const JOB_RETENTION = {
  completed: { count: 100, age: 24 * 3600 },
  failed: { count: 500, age: 7 * 24 * 3600 },
} as const;

/** First retry delay; each further one doubles (BullMQ exponential backoff). */
export const RETRY_BACKOFF_MS = 2_000;

/** The job options of every test job: attempts from the catalogue, our priority mapped onto BullMQ's. */
export function testJobOptions(testType: TestType, testId: string, run: number, priority: number) {
  return {
    jobId: jobIdOf(testId, run),
    priority: toBullPriority(priority),
    attempts: TestCatalog[testType].attempts,
    backoff: { type: 'exponential', delay: RETRY_BACKOFF_MS },
    removeOnComplete: JOB_RETENTION.completed,
    removeOnFail: JOB_RETENTION.failed,
  };
}

/** The job data of a test's run. */
export function testJobData(row: {
  test_id: string;
  test_type: TestType;
  url: string;
  config: Record<string, unknown>;
  judging?: Judging | null;
  user_id: string | null;
  workspace_id?: string | null;
  run: number;
  monitor_id?: string | null;
}): TestJobData {
  return {
    testId: row.test_id,
    testType: row.test_type,
    url: row.url,
    config: row.config,
    ...(row.judging ? { judging: row.judging } : {}),
    userId: row.user_id,
    ...(row.workspace_id ? { workspaceId: row.workspace_id } : {}),
    run: row.run,
    ...(row.monitor_id ? { monitorId: row.monitor_id } : {}),
  };
}

/**
 * The queue of stress-test shards (DESIGN.md, "Distributed stress tests"): a sharded test's job
 * adds one job per shard here, consumed by every worker that consumes `tests`, outside the fair
 * dispatcher (the test itself already took its turn and its slot).
 */
export const STRESS_SHARD_QUEUE_NAME = 'stress-shards';

/** The job of one shard of a sharded stress test. */
export interface StressShardJobData {
  testId: string;
  /** The test's job ({@link jobIdOf}). */
  jobId: string;
  /** Names this fan-out (job, attempt, run): the pub/sub topics between the shards and their test. */
  key: string;
  /** 1-based. */
  shard: number;
  shards: number;
  /** 1 for the first job of the shard; a replacement of a lost one counts up. */
  try: number;
  url: string;
  /** The test's validated stress config. */
  config: Record<string, unknown>;
  /** This shard's part of the load: its connections, and its requests per second (null: unpaced). */
  connections: number;
  rate: number | null;
  /** The test's whole run, ramp-up included, seconds. */
  totalSec: number;
  /** Epoch ms by which the shard must be ready; past it the test has given up on it. */
  readyBy: number;
  /** Epoch ms of the agreed start, when known at once (a replacement joins a running test). */
  startAt?: number;
  /** Workers that must not run it (the one whose loss it replaces). @defaultValue none */
  avoidWorkers?: string[];
}

/** Pub/sub topic on which the API asks every worker process to abort a running test. */
export const CANCEL_TOPIC = 'control:cancel';

export interface CancelMessage {
  testId: string;
  /** The job of the run being cancelled ({@link jobIdOf}). */
  jobId: string;
}

/**
 * Pub/sub topic on which the API tells the workers' dispatchers that tests were accepted (or
 * re-run) and announced: their turn may come now (DESIGN.md, "Fair scheduling").
 */
export const DISPATCH_TOPIC = 'control:dispatch';

export interface DispatchMessage {
  /** The tests whose `queue:job:added` went out: a dispatcher may release them from now on. */
  testIds: string[];
}

/** A worker process as it announces itself. */
export interface WorkerPresence {
  id: string;
  /** Tests it runs at once. */
  concurrency: number;
  /**
   * Tests it runs at once from each queue it consumes.
   * @defaultValue `{ tests: concurrency }` (a worker from before the browser queue)
   */
  slots?: Partial<Record<TestQueueName, number>>;
  /** Tests it is running right now. */
  active: string[];
}

/** Global queue counts: the data of `queue:status:updated` and part of `GET /api/test/queue/status`. */
export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  workers: number;
}
