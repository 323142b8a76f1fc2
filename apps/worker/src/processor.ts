import { DelayedError, UnrecoverableError } from 'bullmq';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import {
  Channels,
  Events,
  GroupCommit,
  Priority,
  TestCatalog,
  TestTypes,
  channelName,
  createMessage,
  verdictOf,
} from '@crucible/shared';
import type {
  CatalogEntry,
  EventLog,
  StressConfig,
  StressConnectionStore,
  TestJobData,
  TestType,
} from '@crucible/shared';
import { isConnectionError } from '@crucible/db';
import type { Fence, TestsRepository } from '@crucible/db';
import { parseTestConfig } from './config.js';
import type { EngineRegistry, EngineResult } from './engines/engine.js';
import { EngineError, errorMessage } from './errors.js';

/** Why the worker aborted a job's BullMQ signal (`worker.cancelJob` / `cancelAllJobs`). */
export const AbortReasons = {
  /** The user cancelled the test (broadcast on `CANCEL_TOPIC`). */
  CANCELLED: 'cancelled',
  /** The worker is draining and the test did not finish in time: hand it back. */
  SHUTDOWN: 'shutdown',
  /** BullMQ could not renew the job's lock: another worker may already run it. */
  LOCK_LOST: 'lock-lost',
} as const;

export interface ProcessorDeps {
  tests: TestsRepository;
  eventLog: EventLog;
  engines: EngineRegistry;
  logger: Logger;
  /** Wall-clock bound of one attempt. @defaultValue the catalogue's `timeoutMs(config)` */
  timeoutMs?: (testType: TestType, config: Record<string, unknown>) => number;
  /** Test ids this process is running now (the worker announces them). */
  running: Set<string>;
  /** Called whenever a test starts or ends here. */
  onChange?: () => void;
  /** How long a database write is retried while PostgreSQL is unreachable. @defaultValue 5 minutes */
  dbRetryMs?: number;
  /**
   * A test's progress is written to its row at most this often; reports in between go out live at
   * once and the latest of them is written when the interval is up (0: every report is written).
   * @defaultValue PROGRESS_WRITE_INTERVAL_MS
   */
  progressWriteIntervalMs?: number;
  /** Clock of the progress interval, for tests. @defaultValue Date.now */
  now?: () => number;
  /** The cap on what one owner's stress tests hold together. @defaultValue none (each test capped alone) */
  stressConnections?: StressConnectionLimits;
}

/**
 * Stress connections are capped per owner (a user until workspaces exist), not only per test: a
 * stress test holds its connections in `store` while it runs, and one that would take its owner
 * past `perOwner` stays queued (its job delayed, its row `queued`, its waiting reason noted) and
 * asks again every `retryMs`. Its connections are never cut to fit.
 */
export interface StressConnectionLimits {
  store: StressConnectionStore;
  /** Connections one owner's running stress tests may hold together (`WORKSPACE_MAX_STRESS_CONNECTIONS`). */
  perOwner: number;
  /** What the engine holds one test to, whatever it asks (`STRESS_MAX_CONNECTIONS`). */
  perTest: number;
  /** How long a test that does not fit waits before it asks again. @defaultValue 1000 */
  retryMs?: number;
}

/**
 * A test's progress is stored at most once a second: a test that ends sooner writes only its start
 * and its result, while the live channel still gets every report (DESIGN.md, "Progress").
 */
export const PROGRESS_WRITE_INTERVAL_MS = 1_000;

/** What a job returns to BullMQ; the result itself lives in PostgreSQL. */
export interface ProcessOutcome {
  testId: string;
  status: 'completed' | 'skipped';
}

/** This attempt no longer owns the test (cancelled, re-run, or taken over): it must stop writing. */
class FenceLost extends Error {
  constructor(message = 'the test was cancelled or taken over by another attempt') {
    super(message);
  }
}

class Shutdown extends Error {
  constructor() {
    super('the worker is shutting down');
  }
}

function abortError(reason: unknown): Error {
  if (reason === AbortReasons.CANCELLED) return new EngineError('CANCELLED', 'the test was cancelled');
  if (reason === AbortReasons.SHUTDOWN) return new Shutdown();
  if (reason === AbortReasons.LOCK_LOST) return new FenceLost('the worker lost the lock of this test');
  return reason instanceof Error ? reason : new EngineError('ABORTED', 'the test was aborted');
}

/**
 * Rows of one batch are locked in no particular order, so two batches (of two workers) over the
 * same tests may deadlock; PostgreSQL then fails one of them, whose items are written one by one.
 */
async function oneByOneOnDeadlock<I, O>(items: I[], write: (batch: I[]) => Promise<O[]>): Promise<O[]> {
  try {
    return await write(items);
  } catch (err) {
    if (items.length < 2 || (err as { code?: unknown }).code !== '40P01') throw err;
    const results: O[] = [];
    for (const item of items) results.push(...(await write([item])));
    return results;
  }
}

/** Not worth a retry: the next attempt would fail the same way. */
function isPermanent(err: unknown): boolean {
  return err instanceof UnrecoverableError || (err instanceof EngineError && !err.retryable);
}

/**
 * Runs one test job: starts a fenced attempt in PostgreSQL, runs the engine under the type's
 * timeout and the job's abort signal, and stores progress and the outcome — each write fenced by
 * the attempt, so a worker that lost the test can never overwrite the one that has it.
 * Transient failures with attempts left put the row back to `queued` and let BullMQ retry with
 * backoff; everything else is final. Database writes are retried while PostgreSQL is unreachable.
 * A message that cannot be published is logged and the test goes on.
 */
export function createProcessor(
  deps: ProcessorDeps,
): (job: Job<TestJobData>, token?: string, signal?: AbortSignal) => Promise<ProcessOutcome> {
  const { tests, eventLog, engines, logger } = deps;
  const dbRetryMs = deps.dbRetryMs ?? 5 * 60_000;
  const progressWriteIntervalMs = deps.progressWriteIntervalMs ?? PROGRESS_WRITE_INTERVAL_MS;
  const now = deps.now ?? Date.now;

  // Starts and results of the jobs running here share statements when they come together.
  // A test's writes never share a statement or overtake each other (key); a batch stands or falls
  // as one, and each caller's own retry submits its item again.
  const starts = new GroupCommit(
    GroupCommit.allOrNothing((items: { testId: string; run: number }[]) =>
      oneByOneOnDeadlock(items, (batch) => tests.startAttempts(batch)),
    ),
    { key: (item) => item.testId, maxBatch: 64, maxInFlight: 2 },
  );
  type Finish = Parameters<TestsRepository['finishAttempts']>[0][number];
  const finishes = new GroupCommit(
    GroupCommit.allOrNothing((items: Finish[]) =>
      oneByOneOnDeadlock(items, (batch) => tests.finishAttempts(batch)),
    ),
    { key: (item) => item.fence.testId, maxBatch: 64, maxInFlight: 2 },
  );
  const timeoutOf =
    deps.timeoutMs ??
    ((testType: TestType, config: Record<string, unknown>) =>
      (TestCatalog[testType] as CatalogEntry).timeoutMs(config));

  const runTest = async (
    job: Job<TestJobData>,
    token: string | undefined,
    signal: AbortSignal | undefined,
    refused?: EngineError,
  ): Promise<ProcessOutcome> => {
    const { testId, testType, url, userId } = job.data;
    const run = job.data.run ?? 0;
    const log = logger.child({ testId, testType, run, job: job.id });
    const progressChannel = channelName(Channels.TEST_PROGRESS, { testId });
    const jobChannel = channelName(Channels.JOB_STATUS, { jobId: testId });

    type Draft = [channel: string, event: Events, data: object, priority: Priority];
    /** One change, on the test's channel and the job's, in one round trip; a failure is logged. */
    const publish = async (...drafts: Draft[]) => {
      try {
        await eventLog.publishAll(
          drafts.map(([channel, event, data, priority]) =>
            createMessage({ event, channel, data, priority, userId }),
          ),
        );
      } catch (err) {
        log.warn({ err, events: drafts.map(([, event]) => event) }, 'could not publish; the test goes on');
      }
    };

    const persist = async <T>(write: () => Promise<T>): Promise<T> => {
      const deadline = Date.now() + dbRetryMs;
      for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
        try {
          return await write();
        } catch (err) {
          if (!isConnectionError(err) || Date.now() + delay > deadline) throw err;
          log.warn({ err: errorMessage(err), retryInMs: delay }, 'database unreachable; retrying the write');
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
    };

    const started = await persist(() => starts.submit({ testId, run }));
    // startAttempt wrote progress 0: the next progress write is due an interval from now.
    let progressWrittenAt = now();
    if (!started) {
      log.info('test is no longer queued (cancelled, finished or re-run); skipping');
      return { testId, status: 'skipped' };
    }
    const fence: Fence = { testId, attempt: started.attempt };
    deps.running.add(testId);
    deps.onChange?.();
    const alog = log.child({ attempt: fence.attempt });
    alog.info('test started');

    const controller = new AbortController();
    const onAbort = () => controller.abort(abortError(signal?.reason));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    let progressTimer: NodeJS.Timeout | undefined;
    let progressWrite: Promise<void> | undefined;
    /** Stores `progress`; false (and the attempt aborted) when the fence no longer holds. */
    const writeProgress = async (progress: number): Promise<boolean> => {
      progressWrittenAt = now();
      if (controller.signal.aborted) return false;
      if (await persist(() => tests.setProgress(fence, progress))) return true;
      controller.abort(new FenceLost());
      return false;
    };
    let lastPct = 0;
    /** Writes the latest progress in the background, after any write still under way. */
    const flushProgress = () => {
      progressTimer = undefined;
      const previous = progressWrite;
      const write: Promise<void> = (async () => {
        await previous;
        await writeProgress(lastPct);
      })()
        .catch((err: unknown) => log.warn({ err }, 'could not store progress; the test goes on'))
        .finally(() => {
          if (progressWrite === write) progressWrite = undefined;
        });
      progressWrite = write;
    };
    const maxAttempts = job.opts.attempts ?? (TestCatalog[testType] as CatalogEntry).attempts;
    let result: EngineResult;
    try {
      if (started.lost_previous) {
        // The worker of the previous attempt died (BullMQ found the job stalled): said before this
        // attempt starts, so an open page drops the old attempt's progress instead of freezing on it.
        alog.warn('the previous attempt was lost with its worker; running again');
        await publish([
          jobChannel,
          Events.QUEUE_JOB_FAILED,
          {
            jobId: testId,
            testId,
            status: 'queued',
            error: 'the worker running this test was lost',
            reason: 'worker-lost',
            willRetry: true,
            retryCount: started.retry_count,
            attempt: started.retry_count + 1,
            maxAttempts,
          },
          Priority.HIGH,
        ]);
      }
      await publish(
        [
          progressChannel,
          Events.TEST_STARTED,
          { testId, testType, url, status: 'running', attempt: fence.attempt },
          Priority.HIGH,
        ],
        [jobChannel, Events.QUEUE_JOB_STARTED, { jobId: testId, testId, testType }, Priority.HIGH],
      );
      if (refused) throw refused;
      const engine = engines[testType];
      if (!engine) throw new EngineError('NO_ENGINE', `test type ${testType} has no engine in this worker`);
      const config = parseTestConfig(testType, job.data.config);
      const timeoutMs = timeoutOf(testType, config);
      timer = setTimeout(
        () =>
          controller.abort(new EngineError('TIMED_OUT', `the test did not finish within ${timeoutMs} ms`)),
        timeoutMs,
      );
      result = await engine(url, config, {
        signal: controller.signal,
        // Live load figures of a stress test, once a second, for its own channel.
        stressStats: (data) =>
          publish([
            channelName(Channels.STRESS_TEST, { testId }),
            Events.TEST_PROGRESS,
            { testId, ...data },
            Priority.LOW,
          ]),
        progress: async (pct, stage, data = {}) => {
          if (controller.signal.aborted) return;
          // Subscribers draw a bar: never let it move backwards or reach 100 before the result is stored.
          const progress = Math.max(lastPct, Math.min(99, Math.round(pct)));
          lastPct = progress;
          if (!progressWrite && now() - progressWrittenAt >= progressWriteIntervalMs) {
            // Due: written before it goes out, and the engine waits for it (a lost fence stops it).
            clearTimeout(progressTimer);
            progressTimer = undefined;
            if (!(await writeProgress(progress))) return;
          } else {
            // Too soon after the last write: the latest report is written when the interval is up,
            // unless the result (which sets 100) is stored first.
            progressTimer ??= setTimeout(
              flushProgress,
              Math.max(0, progressWrittenAt + progressWriteIntervalMs - now()),
            );
          }
          await publish(
            [progressChannel, Events.TEST_PROGRESS, { testId, progress, stage, ...data }, Priority.NORMAL],
            [jobChannel, Events.QUEUE_JOB_PROGRESS, { jobId: testId, testId, progress }, Priority.NORMAL],
          );
        },
      });
      if (controller.signal.aborted) throw controller.signal.reason;
    } catch (thrown) {
      // An abort is what happened, whatever the engine made of it.
      const err: unknown = controller.signal.aborted ? controller.signal.reason : thrown;
      const message = errorMessage(err);
      if (err instanceof Shutdown) {
        if (await persist(() => tests.handBack(fence))) {
          alog.info('handed the test back to the queue');
          // Queued again (no attempt used up): watchers and cached lists hear it like a new entry.
          await publish([
            jobChannel,
            Events.QUEUE_JOB_ADDED,
            { jobId: testId, testId, testType, queuePosition: null, handedBack: true },
            Priority.HIGH,
          ]);
        }
        if (token) {
          await job.moveToDelayed(Date.now(), token);
          throw new DelayedError();
        }
        throw err;
      }
      if (err instanceof FenceLost || (err instanceof EngineError && err.code === 'CANCELLED')) {
        // Whoever took the test from this attempt (the user, or another worker) has written its status.
        alog.info({ reason: message }, 'attempt stopped without writing');
        throw new UnrecoverableError(message);
      }
      const permanent = isPermanent(err);
      if (permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
        if (
          await persist(() => finishes.submit({ fence, status: 'failed', fields: { errorMessage: message } }))
        ) {
          alog.warn({ err }, 'test failed');
          await publish(
            [
              progressChannel,
              Events.TEST_FAILED,
              { testId, status: 'failed', error: message },
              Priority.HIGH,
            ],
            [
              jobChannel,
              Events.QUEUE_JOB_FAILED,
              { jobId: testId, testId, status: 'failed', error: message, willRetry: false },
              Priority.HIGH,
            ],
          );
        } else {
          alog.info({ err }, 'test ended by someone else while failing');
        }
        throw permanent && !(err instanceof UnrecoverableError) ? new UnrecoverableError(message) : err;
      }
      const queued = await persist(() => tests.scheduleRetry(fence, message));
      if (queued) {
        alog.warn({ err }, 'attempt failed; BullMQ will retry');
        await publish([
          jobChannel,
          Events.QUEUE_JOB_FAILED,
          {
            jobId: testId,
            testId,
            status: 'queued',
            error: message,
            reason: 'error',
            willRetry: true,
            retryCount: queued.retry_count,
            attempt: queued.retry_count + 1,
            maxAttempts,
          },
          Priority.HIGH,
        ]);
        throw err;
      }
      alog.info({ err }, 'test ended by someone else while retrying');
      throw new UnrecoverableError(message);
    } finally {
      clearTimeout(timer);
      clearTimeout(progressTimer);
      // A progress write under way lands (or fails its fence) before the outcome is written.
      await progressWrite;
      signal?.removeEventListener('abort', onAbort);
      deps.running.delete(testId);
      deps.onChange?.();
    }

    const verdict = verdictOf(testType, result);
    if (
      !(await persist(() => finishes.submit({ fence, status: 'completed', fields: { result, verdict } })))
    ) {
      alog.info('test ended by someone else before its result was stored');
      return { testId, status: 'skipped' };
    }
    alog.info({ verdict }, 'test completed');
    await publish(
      [
        progressChannel,
        Events.TEST_COMPLETED,
        { testId, status: 'completed', verdict, progress: 100, summary: result.summary },
        Priority.HIGH,
      ],
      [
        jobChannel,
        Events.QUEUE_JOB_COMPLETED,
        { jobId: testId, testId, status: 'completed', verdict },
        Priority.HIGH,
      ],
    );
    return { testId, status: 'completed' };
  };

  const limits = deps.stressConnections;
  if (!limits) return runTest;
  const retryMs = limits.retryMs ?? 1_000;
  return async (job, token, signal) => {
    if (job.data.testType !== TestTypes.STRESS) return runTest(job, token, signal);
    const { testId, userId } = job.data;
    let connections: number;
    try {
      const config = parseTestConfig(TestTypes.STRESS, job.data.config) as StressConfig;
      connections = Math.min(config.connections ?? 10, limits.perTest);
    } catch {
      // The attempt fails it as an invalid config, without holding anything.
      return runTest(job, token, signal);
    }
    if (connections > limits.perOwner) {
      return runTest(
        job,
        token,
        signal,
        new EngineError(
          'OVER_WORKSPACE_LIMIT',
          `this test needs ${connections} connections; one workspace's stress tests may hold ${limits.perOwner} at once`,
        ),
      );
    }
    // The owner is the user until workspaces exist; tests without one share one budget.
    const owner = userId ?? 'no-owner';
    const hold = await limits.store.reserve(owner, testId, connections, limits.perOwner);
    if (!hold.granted) {
      const reason =
        `waiting for stress connections: this test needs ${connections}, and ${hold.inUse} of the ` +
        `${limits.perOwner} one workspace's stress tests may hold at once are in use`;
      // Kept a few retries past the next one, so it never lapses while the test still waits.
      if (await limits.store.setWaiting(testId, reason, retryMs * 5 + 5_000)) {
        logger.info({ testId, connections, inUse: hold.inUse }, 'stress test waits for connections');
        // Its cached views drop, and watchers see why it has not started.
        await eventLog
          .publish(
            createMessage({
              event: Events.QUEUE_JOB_WAITING,
              channel: channelName(Channels.JOB_STATUS, { jobId: testId }),
              data: { jobId: testId, testId, testType: TestTypes.STRESS, waitReason: reason },
              priority: Priority.HIGH,
              userId,
            }),
          )
          .catch((err: unknown) =>
            logger.warn({ err, testId }, 'could not publish; the test waits all the same'),
          );
      }
      await job.moveToDelayed(Date.now() + retryMs, token);
      throw new DelayedError();
    }
    try {
      return await runTest(job, token, signal);
    } finally {
      await limits.store
        .release(owner, testId)
        .catch((err: unknown) =>
          logger.warn({ err, testId }, 'could not release stress connections; their lease lapses'),
        );
    }
  };
}
