import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { CANCEL_TOPIC, QueueStatusPublisher, WorkerRegistry, readQueueCounts } from '@crucible/shared';
import type { CancelMessage, TestType } from '@crucible/shared';
import type { Backplane, TestQueueWorker } from '@crucible/backplane';
import { invalidatingEventLog } from '@crucible/shared/cache';
import type { Cache } from '@crucible/shared/cache';
import { TestsRepository } from '@crucible/db';
import type { Db } from '@crucible/db';
import type { EngineRegistry } from './engines/engine.js';
import { defaultEngines } from './engines/registry.js';
import { DEFAULT_STRESS_LIMITS } from './engines/stress.engine.js';
import { AbortReasons, createProcessor } from './processor.js';
import type { ProcessOutcome } from './processor.js';
import { createReconciler } from './reconciler.js';

export interface TestWorkerDeps {
  db: Db;
  /**
   * Where the queue is consumed and re-filled, progress published, cancels heard (`CANCEL_TOPIC`)
   * and workers announced; the caller closes it after the worker.
   */
  backplane: Pick<
    Backplane,
    'createWorker' | 'queue' | 'eventLog' | 'pubsub' | 'presence' | 'stressConnections'
  >;
  /**
   * The deployment's response cache: each status event drops the test's cached views before it goes
   * out (DESIGN.md, "Response cache"). Without it nothing is invalidated.
   */
  cache?: Cache;
  /** Jobs run at once. @defaultValue 5 */
  concurrency?: number;
  logger: Logger;
  /** Engines by test type. @defaultValue defaultEngines */
  engines?: EngineRegistry;
  /** Wall-clock bound of one attempt. @defaultValue the catalogue's `timeoutMs(config)` */
  timeoutMs?: (testType: TestType, config: Record<string, unknown>) => number;
  /** A job whose worker has not renewed its lock for this long is presumed lost and runs again. @defaultValue 30 s */
  lockDurationMs?: number;
  /** How often this worker looks for jobs whose worker was lost. @defaultValue the lock duration, at most 15 s */
  stalledIntervalMs?: number;
  /** How often the reconciler runs. @defaultValue 15 s */
  reconcileIntervalMs?: number;
  /** A queued row younger than this is not reconciled (its API may still be enqueueing it). @defaultValue 10 s */
  reconcileGraceMs?: number;
  /** A running row not written to for this long, and not announced by a live worker, is reconciled. @defaultValue 30 s */
  reconcileRunningStaleMs?: number;
  /** How often this worker announces itself (live workers, capacity, running tests). @defaultValue 5 s */
  heartbeatMs?: number;
  /** On close, how long running tests may go on before they are handed back to the queue. @defaultValue 20 s */
  drainTimeoutMs?: number;
  /** A test's progress is written to its row at most this often (0: every report). @defaultValue 1 s */
  progressWriteIntervalMs?: number;
  /** Clock of the progress interval, for tests. @defaultValue Date.now */
  now?: () => number;
  /**
   * Connections one owner's stress tests may hold together (`WORKSPACE_MAX_STRESS_CONNECTIONS`),
   * held in the backplane's store; a test past it waits queued. @defaultValue 200
   */
  maxStressConnectionsPerOwner?: number;
  /** What the stress engine holds one test to (`STRESS_MAX_CONNECTIONS`). @defaultValue 200 */
  maxStressConnectionsPerTest?: number;
  /** How long a stress test that does not fit waits before it asks again. @defaultValue 1 s */
  stressRetryMs?: number;
}

export interface TestWorker {
  worker: TestQueueWorker<ProcessOutcome>;
  /** Resolves once the worker takes jobs and hears cancel requests. */
  ready: Promise<void>;
  /** Runs one reconciliation pass now (it also runs every `reconcileIntervalMs`). */
  reconcile(): Promise<number>;
  /**
   * Stops taking jobs and lets running ones finish for up to `drainTimeoutMs`; the rest are aborted
   * and handed back to the queue (no attempt is used up), so another worker runs them.
   */
  close(): Promise<void>;
  /** How many tests this worker is running now. */
  runningCount(): number;
  /**
   * Ends the drain early: running tests are handed back to the queue at once (a second Ctrl-C),
   * now if `close()` has begun, else as soon as it begins.
   */
  handBack(): void;
}

/** What a person stopping a worker with running tests is told (`pnpm start`, `pnpm start:worker`). */
export function drainNotice(running: number, drainTimeoutMs: number): string {
  const tests = running === 1 ? '1 running test' : `${running} running tests`;
  return `finishing ${tests} (up to ${Math.ceil(drainTimeoutMs / 1000)} s; Ctrl-C again to hand ${running === 1 ? 'it' : 'them'} back now)`;
}

/** The BullMQ consumer of the test queue, with its cancel listener, heartbeat and reconciler. */
export function createTestWorker(deps: TestWorkerDeps): TestWorker {
  const id = randomUUID();
  const log = deps.logger.child({ worker: id });
  const concurrency = deps.concurrency ?? 5;
  const lockDuration = deps.lockDurationMs ?? 30_000;
  const reconcileIntervalMs = deps.reconcileIntervalMs ?? 15_000;
  const tests = new TestsRepository(deps.db.kysely);
  const { queue, pubsub } = deps.backplane;
  const eventLog = deps.cache
    ? invalidatingEventLog(deps.backplane.eventLog, deps.cache)
    : deps.backplane.eventLog;
  const registry = new WorkerRegistry(deps.backplane.presence);
  const status = new QueueStatusPublisher({
    read: () => readQueueCounts(queue, registry),
    eventLog,
    onError: (err) => log.warn({ err }, 'could not publish the queue status'),
  });
  const running = new Set<string>();

  const processor = createProcessor({
    tests,
    eventLog,
    engines: deps.engines ?? defaultEngines,
    logger: log,
    timeoutMs: deps.timeoutMs,
    running,
    onChange: () => status.notify(),
    progressWriteIntervalMs: deps.progressWriteIntervalMs,
    now: deps.now,
    stressConnections: {
      store: deps.backplane.stressConnections,
      perOwner: deps.maxStressConnectionsPerOwner ?? DEFAULT_STRESS_LIMITS.maxConnections,
      perTest: deps.maxStressConnectionsPerTest ?? DEFAULT_STRESS_LIMITS.maxConnections,
      retryMs: deps.stressRetryMs,
    },
  });
  const worker = deps.backplane.createWorker(processor, {
    concurrency,
    lockDuration,
    stalledInterval: deps.stalledIntervalMs ?? Math.min(15_000, lockDuration),
    // A test whose worker is lost runs again, as long as the catalogue's attempts allow.
    maxStalledCount: 2,
  });
  // Without a listener an 'error' event (Redis gone) would crash the process.
  worker.on('error', (err) => log.error({ err }, 'queue worker error'));
  worker.on('stalled', (jobId) => log.warn({ jobId }, 'a job whose worker was lost runs again'));
  worker.on('lockRenewalFailed', (jobIds) => {
    for (const jobId of jobIds) worker.cancelJob(jobId, AbortReasons.LOCK_LOST);
  });

  const onCancel = (payload: string) => {
    let message: CancelMessage;
    try {
      message = JSON.parse(payload) as CancelMessage;
    } catch {
      log.warn({ payload }, 'ignored a malformed cancel message');
      return;
    }
    if (worker.cancelJob(message.jobId, AbortReasons.CANCELLED)) {
      log.info({ testId: message.testId }, 'cancelling a running test');
    }
  };

  const beat = () =>
    registry
      .beat({ id, concurrency, active: [...running] })
      .catch((err: unknown) => log.warn({ err }, 'heartbeat failed'));
  const heartbeat = setInterval(beat, deps.heartbeatMs ?? 5_000);
  heartbeat.unref();

  const reconciler = createReconciler({
    tests,
    queue,
    registry,
    eventLog,
    presence: deps.backplane.presence,
    workerId: id,
    logger: log,
    queuedGraceMs: deps.reconcileGraceMs,
    runningStaleMs: deps.reconcileRunningStaleMs,
  });
  // The pass lock is held for most of an interval, so N workers make about one pass per interval.
  const reconcile = () => reconciler.reconcile(Math.max(1_000, reconcileIntervalMs - 500));
  const reconcileTimer = setInterval(() => {
    reconcile().catch((err: unknown) => log.warn({ err }, 'reconciliation failed'));
  }, reconcileIntervalMs);
  reconcileTimer.unref();

  const ready = (async () => {
    await pubsub.subscribe(CANCEL_TOPIC, onCancel);
    await worker.waitUntilReady();
    await beat();
  })();
  ready.catch((err: unknown) => log.error({ err }, 'worker failed to start'));

  let closing: Promise<void> | undefined;
  let handBackNow!: () => void;
  const handedBack = new Promise<'handed back'>((resolve) => (handBackNow = () => resolve('handed back')));
  return {
    worker,
    ready,
    reconcile,
    runningCount: () => running.size,
    handBack: () => handBackNow(),
    close() {
      closing ??= (async () => {
        clearInterval(reconcileTimer);
        const closed = worker.close();
        let timer: NodeJS.Timeout | undefined;
        const drained = await Promise.race([
          closed.then(() => 'drained' as const),
          handedBack,
          new Promise<'timed out'>((resolve) => {
            timer = setTimeout(() => resolve('timed out'), deps.drainTimeoutMs ?? 20_000);
          }),
        ]);
        clearTimeout(timer);
        if (drained !== 'drained') {
          log.warn({ running: [...running], drain: drained }, 'handing running tests back to the queue');
          worker.cancelAllJobs(AbortReasons.SHUTDOWN);
          await closed;
        }
        clearInterval(heartbeat);
        status.close();
        await ready.catch(() => undefined);
        await pubsub.unsubscribe(CANCEL_TOPIC, onCancel);
        await registry.leave(id).catch((err: unknown) => log.warn({ err }, 'could not leave the registry'));
      })();
      return closing;
    },
  };
}
