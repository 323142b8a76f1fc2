import type { Logger } from 'pino';
import {
  Channels,
  Events,
  Priority,
  channelName,
  createMessage,
  queueJobAdded,
  queueJobFailed,
} from '@crucible/contracts';
import type {
  DraftMessage,
  EventLog,
  EventPayloads,
  TestJobData,
  TestProgressData,
  Verdict,
} from '@crucible/contracts';

/**
 * What one attempt of a test announces: on the test's channel (`test-progress-{testId}`), on the
 * job's (`job-status-{testId}`) and, for a stress test's live figures, on `stress-test-{testId}`.
 * A message that cannot be published is logged and the test goes on.
 */
export class AttemptEvents {
  readonly #eventLog: EventLog;
  readonly #log: Logger;
  readonly #job: TestJobData;
  readonly #progressChannel: string;
  readonly #jobChannel: string;

  constructor(eventLog: EventLog, job: TestJobData, log: Logger) {
    this.#eventLog = eventLog;
    this.#log = log;
    this.#job = job;
    this.#progressChannel = channelName(Channels.TEST_PROGRESS, { testId: job.testId });
    this.#jobChannel = channelName(Channels.JOB_STATUS, { jobId: job.testId });
  }

  /** The previous attempt's worker died: an open page drops that attempt's progress. */
  workerLost(retryCount: number, maxAttempts: number): Promise<void> {
    return this.#publish(
      this.#draft(
        this.#jobChannel,
        Events.QUEUE_JOB_FAILED,
        queueJobFailed(this.#job.testId, {
          status: 'queued',
          error: 'the worker running this test was lost',
          reason: 'worker-lost',
          retryCount,
          maxAttempts,
        }),
        Priority.HIGH,
      ),
    );
  }

  started(attempt: number): Promise<void> {
    const { testId, testType, url } = this.#job;
    return this.#publish(
      this.#draft(
        this.#progressChannel,
        Events.TEST_STARTED,
        { testId, testType, url, status: 'running', attempt },
        Priority.HIGH,
      ),
      this.#draft(
        this.#jobChannel,
        Events.QUEUE_JOB_STARTED,
        { jobId: testId, testId, testType },
        Priority.HIGH,
      ),
    );
  }

  progress(progress: number, stage: string, data: object): Promise<void> {
    const { testId } = this.#job;
    return this.#publish(
      this.#draft(
        this.#progressChannel,
        Events.TEST_PROGRESS,
        { testId, progress, stage, ...data },
        Priority.NORMAL,
      ),
      this.#draft(
        this.#jobChannel,
        Events.QUEUE_JOB_PROGRESS,
        { jobId: testId, testId, progress },
        Priority.NORMAL,
      ),
    );
  }

  /** Live load figures of a stress test, once a second, for its own channel. */
  stressStats(data: object): Promise<void> {
    const { testId } = this.#job;
    const figures: TestProgressData = { testId, ...data };
    return this.#publish(
      this.#draft(channelName(Channels.STRESS_TEST, { testId }), Events.TEST_PROGRESS, figures, Priority.LOW),
    );
  }

  /** Queued again (no attempt used up): watchers and cached lists hear it like a new entry. */
  handedBack(): Promise<void> {
    const { testId, testType } = this.#job;
    return this.#publish(
      this.#draft(
        this.#jobChannel,
        Events.QUEUE_JOB_ADDED,
        queueJobAdded({ testId, testType, queuePosition: null, handedBack: true }),
        Priority.HIGH,
      ),
    );
  }

  failed(error: string): Promise<void> {
    const { testId } = this.#job;
    return this.#publish(
      this.#draft(
        this.#progressChannel,
        Events.TEST_FAILED,
        { testId, status: 'failed', error },
        Priority.HIGH,
      ),
      this.#draft(
        this.#jobChannel,
        Events.QUEUE_JOB_FAILED,
        queueJobFailed(testId, { status: 'failed', error }),
        Priority.HIGH,
      ),
    );
  }

  /** The attempt failed and the test is queued again for BullMQ's retry. */
  retrying(error: string, retryCount: number, maxAttempts: number): Promise<void> {
    return this.#publish(
      this.#draft(
        this.#jobChannel,
        Events.QUEUE_JOB_FAILED,
        queueJobFailed(this.#job.testId, {
          status: 'queued',
          error,
          reason: 'error',
          retryCount,
          maxAttempts,
        }),
        Priority.HIGH,
      ),
    );
  }

  completed(verdict: Verdict, summary: unknown): Promise<void> {
    const { testId } = this.#job;
    return this.#publish(
      this.#draft(
        this.#progressChannel,
        Events.TEST_COMPLETED,
        { testId, status: 'completed', verdict, progress: 100, summary },
        Priority.HIGH,
      ),
      this.#draft(
        this.#jobChannel,
        Events.QUEUE_JOB_COMPLETED,
        { jobId: testId, testId, status: 'completed', verdict },
        Priority.HIGH,
      ),
    );
  }

  /** One message about this test, typed by its event. */
  #draft<E extends Events>(
    channel: string,
    event: E,
    data: EventPayloads[E],
    priority: Priority,
  ): DraftMessage {
    return createMessage({ event, channel, data, priority, userId: this.#job.userId });
  }

  /** One change, on the test's channel and the job's, in one round trip; a failure is logged. */
  async #publish(...drafts: DraftMessage[]): Promise<void> {
    try {
      await this.#eventLog.publishAll(drafts);
    } catch (err) {
      this.#log.warn({ err, events: drafts.map((d) => d.event) }, 'could not publish; the test goes on');
    }
  }
}
