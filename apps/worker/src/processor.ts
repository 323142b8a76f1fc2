import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import { TestCatalog, judgeResult, verdictOf } from '@crucible/contracts';
import type { CatalogEntry, EventLog, MetricValue, TestJobData, TestType } from '@crucible/contracts';
import type { Fence, TestAttemptsRepository } from '@crucible/db';
import { parseTestConfig } from './config.js';
import type { EngineRegistry, EngineResult } from './engines/engine.js';
import { EngineError } from './errors.js';
import { abortError } from './attempt/aborts.js';
import { AttemptEvents } from './attempt/attempt-events.js';
import { failAttempt } from './attempt/attempt-failure.js';
import { AttemptProgress } from './attempt/attempt-progress.js';
import { createAttemptWrites } from './attempt/attempt-writes.js';
import { persistFor } from './attempt/persist.js';
import { runRepeatedly } from './attempt/runs.js';
import { withStressAdmission } from './attempt/stress-admission.js';
import { withRunningQuota } from './attempt/running-quota.js';
import type { RunningQuota } from './attempt/running-quota.js';
import type { RunAttempt, StressConnectionLimits } from './attempt/stress-admission.js';
import { withHostCap } from './attempt/host-cap.js';
import { fanOutFor } from './attempt/stress-shards.js';
import type { ShardTransport } from './attempt/stress-shards.js';
import type { HostCapLimits } from './attempt/host-cap.js';

export { AbortReasons } from './attempt/aborts.js';
export type { StressConnectionLimits } from './attempt/stress-admission.js';
export type { HostCapLimits } from './attempt/host-cap.js';

export interface ProcessorDeps {
  attempts: TestAttemptsRepository;
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
  /**
   * A baseline test's `result.metrics` (null: none, e.g. not completed), for the comparison.
   * @defaultValue none: tests with a baseline are stored without a comparison
   */
  baselineMetrics?: (testId: string) => Promise<Record<string, MetricValue> | null>;
  /** The cap on what one workspace's stress tests hold together. @defaultValue none (each test capped alone) */
  stressConnections?: StressConnectionLimits;
  /** Tests one workspace runs at once (`WORKSPACE_MAX_RUNNING`). @defaultValue none (no cap) */
  runningQuota?: RunningQuota;
  /** Where tests keep files beside their result (screenshots, reports). @defaultValue none kept */
  artifacts?: { put(testId: string, name: string, contentType: string, data: Buffer): Promise<void> };
  /** Stress tests against one host at once, deployment-wide. @defaultValue none (no cap) */
  hostCap?: HostCapLimits;
  /** Where sharded stress tests put their shards. @defaultValue none: a stress test runs whole, here */
  shards?: ShardTransport;
}

/**
 * A test's progress is stored at most once a second: a test that ends sooner writes only its start
 * and its result, while the live channel still gets every report (DESIGN.md, "Progress").
 */
export const PROGRESS_WRITE_INTERVAL_MS = 1_000;

/** The runs' results as stored: metrics, thresholds and, with a baseline, the comparison. */
async function judged(
  data: TestJobData,
  config: Record<string, unknown>,
  results: EngineResult[],
  baselineMetrics: (testId: string) => Promise<Record<string, MetricValue> | null>,
): Promise<EngineResult> {
  const baselineId = data.judging?.baseline;
  const baseline = baselineId ? await baselineMetrics(baselineId) : null;
  return judgeResult(data.testType, config, data.judging, results, baseline);
}

/** What a job returns to BullMQ; the result itself lives in PostgreSQL. */
export interface ProcessOutcome {
  testId: string;
  status: 'completed' | 'skipped';
}

/**
 * Runs one test job: starts a fenced attempt in PostgreSQL, runs the engine under the type's
 * timeout and the job's abort signal, and stores progress and the outcome — each write fenced by
 * the attempt, so a worker that lost the test can never overwrite the one that has it.
 * Transient failures with attempts left put the row back to `queued` and let BullMQ retry with
 * backoff; everything else is final (`attempt/attempt-failure.ts`). Database writes are retried
 * while PostgreSQL is unreachable. A message that cannot be published is logged and the test goes on.
 */
export function createProcessor(
  deps: ProcessorDeps,
): (job: Job<TestJobData>, token?: string, signal?: AbortSignal) => Promise<ProcessOutcome> {
  const { attempts, eventLog, engines, logger } = deps;
  const dbRetryMs = deps.dbRetryMs ?? 5 * 60_000;
  const progressWriteIntervalMs = deps.progressWriteIntervalMs ?? PROGRESS_WRITE_INTERVAL_MS;
  const now = deps.now ?? Date.now;
  const { starts, finishes } = createAttemptWrites(attempts);
  const timeoutOf =
    deps.timeoutMs ??
    ((testType: TestType, config: Record<string, unknown>) =>
      (TestCatalog[testType] as CatalogEntry).timeoutMs(config));

  const runAttempt: RunAttempt<ProcessOutcome> = async (job, token, signal, refused) => {
    const { testId, testType, url } = job.data;
    const run = job.data.run ?? 0;
    const log = logger.child({ testId, testType, run, job: job.id });
    const persist = persistFor(dbRetryMs, log);
    const events = new AttemptEvents(eventLog, job.data, log);

    const started = await persist(() => starts.submit({ testId, run }));
    // startAttempt wrote progress 0: the next progress write is due an interval from now.
    const startedAt = now();
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
    const progress = new AttemptProgress({
      fence,
      attempts,
      persist,
      controller,
      events,
      log,
      writeIntervalMs: progressWriteIntervalMs,
      now,
      writtenAt: startedAt,
    });
    const maxAttempts = job.opts.attempts ?? (TestCatalog[testType] as CatalogEntry).attempts;
    let timer: NodeJS.Timeout | undefined;
    let result: EngineResult;
    try {
      if (started.lost_previous) {
        // The worker of the previous attempt died (BullMQ found the job stalled): said before this
        // attempt starts, so an open page drops the old attempt's progress instead of freezing on it.
        alog.warn('the previous attempt was lost with its worker; running again');
        await events.workerLost(started.retry_count, maxAttempts);
      }
      await events.started(fence.attempt);
      if (refused) throw refused;
      const engine = engines[testType];
      if (!engine) throw new EngineError('NO_ENGINE', `test type ${testType} has no engine in this worker`);
      const config = parseTestConfig(testType, job.data.config);
      const runs = job.data.judging?.runs ?? 1;
      // Each run may take what one takes.
      const timeoutMs = timeoutOf(testType, config) * runs;
      timer = setTimeout(
        () =>
          controller.abort(new EngineError('TIMED_OUT', `the test did not finish within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const ctx = {
        signal: controller.signal,
        stressStats: (data: object) => events.stressStats(data),
        ...(job.data.judging?.abortOnFail?.length ? { abortOnFail: job.data.judging.abortOnFail } : {}),
        progress: progress.report,
        ...(deps.shards
          ? { stressShards: fanOutFor(deps.shards, { testId, jobId: job.id ?? testId }, fence.attempt) }
          : {}),
        ...(deps.artifacts
          ? {
              artifacts: (name: string, contentType: string, data: Buffer) =>
                deps.artifacts!.put(testId, name, contentType, data),
            }
          : {}),
      };
      const results = await runRepeatedly(engine, url, config, ctx, runs);
      if (controller.signal.aborted) throw controller.signal.reason;
      result = await judged(job.data, config, results, (id) =>
        deps.baselineMetrics ? persist(() => deps.baselineMetrics!(id)) : Promise.resolve(null),
      );
    } catch (thrown) {
      // An abort is what happened, whatever the engine made of it.
      const err: unknown = controller.signal.aborted ? controller.signal.reason : thrown;
      return await failAttempt(err, {
        job,
        token,
        fence,
        maxAttempts,
        attempts,
        finishes,
        persist,
        events,
        log: alog,
      });
    } finally {
      clearTimeout(timer);
      // A progress write under way lands (or fails its fence) before the outcome is written.
      await progress.settle();
      signal?.removeEventListener('abort', onAbort);
      deps.running.delete(testId);
      deps.onChange?.();
    }

    const verdict = verdictOf(testType, result, { failOnRegression: job.data.judging?.failOnRegression });
    if (
      !(await persist(() => finishes.submit({ fence, status: 'completed', fields: { result, verdict } })))
    ) {
      alog.info('test ended by someone else before its result was stored');
      return { testId, status: 'skipped' };
    }
    alog.info({ verdict }, 'test completed');
    await events.completed(verdict, result.summary);
    return { testId, status: 'completed' };
  };

  return withGates(runAttempt, deps);
}

/**
 * What a test must hold before its attempt starts, outermost first: its workspace's running slot,
 * its target host's slot, its workspace's stress connections. A test that then waits for one gives
 * back those it took.
 */
function withGates<O>(runAttempt: RunAttempt<O>, deps: ProcessorDeps) {
  const { eventLog, logger } = deps;
  const withinWorkspace = deps.stressConnections
    ? withStressAdmission(runAttempt, deps.stressConnections, { eventLog, logger })
    : runAttempt;
  // The host's slot first: a test that then waits for its workspace's connections gives it back.
  const withinHost = deps.hostCap
    ? withHostCap(withinWorkspace, deps.hostCap, { eventLog, logger })
    : withinWorkspace;
  // Before both, the workspace's running slot, given back likewise if the test then waits.
  return deps.runningQuota
    ? withRunningQuota(withinHost, deps.runningQuota, { eventLog, logger })
    : withinHost;
}
