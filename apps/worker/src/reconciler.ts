import type { Logger } from 'pino';
import type { WorkerRegistry } from '@crucible/backplane';
import {
  Channels,
  Events,
  Priority,
  channelName,
  createMessage,
  jobIdOf,
  queueJobFailed,
  testJobData,
  testJobOptions,
} from '@crucible/contracts';
import type { DraftMessage, EventLog, PresenceStore } from '@crucible/contracts';
import type { TestQueue, TestQueues } from '@crucible/backplane';
import type { IdempotencyKeysRepository, TestAttemptsRepository, TestsRepository } from '@crucible/db';

export interface ReconcilerDeps {
  tests: Pick<TestsRepository, 'findUnsettled'>;
  attempts: Pick<TestAttemptsRepository, 'failRun'>;
  idempotencyKeys: Pick<IdempotencyKeysRepository, 'deleteExpired'>;
  /** Each row's job is looked for, and added again, in its type's queue. */
  queue: Pick<TestQueues, 'of'>;
  /** The monitor runs' own queue: a monitor's run is looked for, and added again, there. */
  monitorQueue: TestQueue;
  registry: WorkerRegistry;
  eventLog: EventLog;
  /** Holds the pass lock, so one worker of the deployment reconciles at a time. */
  presence: PresenceStore;
  /** Identifies this process as the lock holder. */
  workerId: string;
  logger: Logger;
  /** A queued row younger than this is left alone: its API may still be enqueueing it. @defaultValue 10 s */
  queuedGraceMs?: number;
  /** A running row written to more recently than this is left alone. @defaultValue 30 s */
  runningStaleMs?: number;
  /** Rows looked at per pass. @defaultValue 500 */
  batch?: number;
}

const LIVE_STATES = new Set(['waiting', 'prioritized', 'active', 'delayed', 'waiting-children']);

/**
 * PostgreSQL is the record; Redis may lose jobs (flushed, restarted empty, evicted). A pass makes
 * the queue agree with the rows again:
 * - a `queued` or `running` row whose run has no job, and no live worker running it → the job is
 *   added again with its deterministic id (adding an existing id is a no-op, so passes are idempotent);
 * - a row whose job has already ended in BullMQ (a job that stalled too often is failed by BullMQ
 *   without the processor) → the row is failed with BullMQ's reason.
 * One pass per deployment at a time (a lock that expires on its own); any pass is safe anyway.
 */
export function createReconciler(deps: ReconcilerDeps) {
  const log = deps.logger.child({ component: 'reconciler' });

  async function failRow(row: { test_id: string; run: number; user_id: string | null }, reason: string) {
    const failed = await deps.attempts.failRun(row.test_id, row.run, reason);
    if (!failed) return;
    const { test_id: testId, user_id: userId } = row;
    const messages: DraftMessage[] = [
      createMessage({
        event: Events.TEST_FAILED,
        channel: channelName(Channels.TEST_PROGRESS, { testId }),
        data: { testId, status: 'failed', error: reason },
        priority: Priority.HIGH,
        userId,
      }),
      createMessage({
        event: Events.QUEUE_JOB_FAILED,
        channel: channelName(Channels.JOB_STATUS, { jobId: testId }),
        data: queueJobFailed(testId, { status: 'failed', error: reason }),
        priority: Priority.HIGH,
        userId,
      }),
    ];
    for (const message of messages) {
      await deps.eventLog
        .publish(message)
        .catch((err: unknown) => log.warn({ err, testId }, 'could not publish'));
    }
  }

  return {
    /** One pass; returns how many rows it repaired (0 when another worker holds the pass lock). */
    async reconcile(holdMs: number): Promise<number> {
      if (!(await deps.presence.lock('reconciler', deps.workerId, holdMs))) return 0;
      const live = new Set((await deps.registry.live()).flatMap((w) => w.active));
      const rows = await deps.tests.findUnsettled({
        queuedGraceMs: deps.queuedGraceMs ?? 10_000,
        runningStaleMs: deps.runningStaleMs ?? 30_000,
        limit: deps.batch ?? 500,
      });
      let repaired = 0;
      for (const row of rows) {
        if (live.has(row.test_id)) continue;
        const jobId = jobIdOf(row.test_id, row.run);
        const queue = row.monitor_id ? deps.monitorQueue : deps.queue.of(row.test_type);
        const state = await queue.getJobState(jobId);
        if (LIVE_STATES.has(state)) continue;
        if (state === 'unknown') {
          await queue.add(
            row.test_type,
            testJobData(row),
            testJobOptions(row.test_type, row.test_id, row.run, row.priority),
          );
          log.warn({ testId: row.test_id, status: row.status }, 're-enqueued a test whose job was lost');
        } else {
          const job = await queue.getJob(jobId);
          await failRow(row, job?.failedReason || 'the test ended without a recorded outcome');
          log.warn({ testId: row.test_id, state }, 'failed a test whose job ended without recording it');
        }
        repaired++;
      }
      await deps.idempotencyKeys.deleteExpired();
      return repaired;
    },
  };
}

export type Reconciler = ReturnType<typeof createReconciler>;
