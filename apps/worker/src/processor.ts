import { UnrecoverableError } from 'bullmq';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import { Channels, Events, Priority, TestCatalog, channelName, createMessage } from '@crucible/shared';
import type { CatalogEntry, EventLog, TestJobData } from '@crucible/shared';
import type { TestsRepository } from '@crucible/db';
import { parseTestConfig } from './config.js';
import type { EngineRegistry, EngineResult } from './engines/engine.js';
import { EngineError, errorMessage } from './errors.js';

export interface ProcessorDeps {
  tests: TestsRepository;
  eventLog: EventLog;
  engines: EngineRegistry;
  logger: Logger;
}

/** What a job returns to BullMQ; the result itself lives in PostgreSQL. */
export interface ProcessOutcome {
  testId: string;
  status: 'completed' | 'skipped';
}

/** Not worth a retry: the next attempt would fail the same way. */
function isPermanent(err: unknown): boolean {
  return err instanceof UnrecoverableError || (err instanceof EngineError && !err.retryable);
}

/**
 * Runs one test job: marks the row running, runs its engine under the catalogue's timeout, stores
 * progress and the outcome in PostgreSQL and publishes each step to the test's channels.
 * The database is the record, so its writes must succeed; a message that cannot be published is
 * logged and the test goes on (subscribers recover state over HTTP).
 */
export function createProcessor(deps: ProcessorDeps): (job: Job<TestJobData>) => Promise<ProcessOutcome> {
  const { tests, eventLog, engines, logger } = deps;

  return async (job) => {
    const { testId, testType, url, userId } = job.data;
    const log = logger.child({ testId, testType, attempt: job.attemptsMade + 1 });
    const progressChannel = channelName(Channels.TEST_PROGRESS, { testId });
    const jobChannel = channelName(Channels.JOB_STATUS, { jobId: testId });

    const publish = async (channel: string, event: Events, data: object, priority: Priority) => {
      try {
        await eventLog.publish(createMessage({ event, channel, data, priority, userId }));
      } catch (err) {
        log.warn({ err, event, channel }, 'could not publish; the test goes on');
      }
    };

    if (!(await tests.markRunning(testId))) {
      log.info('test is no longer queued (cancelled or finished); skipping');
      return { testId, status: 'skipped' };
    }
    log.info('test started');
    await publish(
      progressChannel,
      Events.TEST_STARTED,
      { testId, testType, url, status: 'running' },
      Priority.HIGH,
    );
    await publish(jobChannel, Events.QUEUE_JOB_STARTED, { jobId: testId, testId, testType }, Priority.HIGH);

    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let result: EngineResult;
    try {
      const engine = engines[testType];
      if (!engine) throw new EngineError('NO_ENGINE', `test type ${testType} has no engine in this worker`);
      const config = parseTestConfig(testType, job.data.config);
      const timeoutMs = (TestCatalog[testType] as CatalogEntry).timeoutMs(config);
      timer = setTimeout(
        () =>
          controller.abort(new EngineError('TIMED_OUT', `the test did not finish within ${timeoutMs} ms`)),
        timeoutMs,
      );
      let lastPct = 0;
      result = await engine(url, config, {
        signal: controller.signal,
        // Live load figures of a stress test, once a second, for its own channel.
        stressStats: (data) =>
          publish(
            channelName(Channels.STRESS_TEST, { testId }),
            Events.TEST_PROGRESS,
            { testId, ...data },
            Priority.LOW,
          ),
        progress: async (pct, stage, data = {}) => {
          // Subscribers draw a bar: never let it move backwards or reach 100 before the result is stored.
          const progress = Math.max(lastPct, Math.min(99, Math.round(pct)));
          lastPct = progress;
          await tests.setProgress(testId, progress);
          const row = await tests.findById(testId);
          if (row?.status !== 'running') {
            controller.abort(new EngineError('CANCELLED', 'the test was cancelled while running'));
            return;
          }
          await publish(
            progressChannel,
            Events.TEST_PROGRESS,
            { testId, progress, stage, ...data },
            Priority.NORMAL,
          );
          await publish(
            jobChannel,
            Events.QUEUE_JOB_PROGRESS,
            { jobId: testId, testId, progress },
            Priority.NORMAL,
          );
        },
      });
    } catch (err) {
      const permanent = isPermanent(err);
      const lastAttempt = permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const message = errorMessage(err);
      if (lastAttempt) {
        if (await tests.finish(testId, 'failed', { errorMessage: message })) {
          log.warn({ err }, 'test failed');
          await publish(
            progressChannel,
            Events.TEST_FAILED,
            { testId, status: 'failed', error: message },
            Priority.HIGH,
          );
          await publish(
            jobChannel,
            Events.QUEUE_JOB_FAILED,
            { jobId: testId, testId, status: 'failed', error: message },
            Priority.HIGH,
          );
        } else {
          log.info({ err }, 'test ended by someone else (cancelled) while running');
        }
      } else {
        log.warn({ err }, 'attempt failed; BullMQ will retry');
      }
      throw permanent && !(err instanceof UnrecoverableError) ? new UnrecoverableError(message) : err;
    } finally {
      clearTimeout(timer);
    }

    if (!(await tests.finish(testId, 'completed', { result }))) {
      log.info('test ended by someone else (cancelled) before its result was stored');
      return { testId, status: 'skipped' };
    }
    log.info('test completed');
    await publish(
      progressChannel,
      Events.TEST_COMPLETED,
      { testId, status: 'completed', progress: 100, summary: result.summary },
      Priority.HIGH,
    );
    await publish(
      jobChannel,
      Events.QUEUE_JOB_COMPLETED,
      { jobId: testId, testId, status: 'completed' },
      Priority.HIGH,
    );
    return { testId, status: 'completed' };
  };
}
