import type { IQueueBackend, Job, JobsOptions, JobState, Queue } from 'bullmq';
import { TEST_QUEUE_NAMES, queueNameOf } from '@crucible/contracts';
import type { TestJobData, TestQueueName, TestType } from '@crucible/contracts';

/** One BullMQ test queue, whichever store holds it. */
export type TestQueue = Queue<
  TestJobData,
  unknown,
  string,
  TestJobData,
  unknown,
  string,
  IQueueBackend,
  unknown
>;

type TestJob = Job<TestJobData, unknown, string>;

/**
 * The test queues as one: a job goes to its type's queue (`queueNameOf`), and what is asked by
 * job id (its state, the job, its removal) is asked of every queue, so the api, the reconciler and
 * the tests need not know which queue holds a test. A job id names one test's run, so at most one
 * queue has it. Counts are summed; `named`/`all` give the queues themselves (bull-board, metrics).
 */
export class TestQueues {
  readonly #make: (name: TestQueueName) => TestQueue;
  readonly #made = new Map<TestQueueName, TestQueue>();

  /** @param make builds a queue the first time it is used (a gateway never enqueues). */
  constructor(make: (name: TestQueueName) => TestQueue) {
    this.#make = make;
  }

  /** The queue of that name. */
  named(name: TestQueueName): TestQueue {
    let queue = this.#made.get(name);
    if (!queue) this.#made.set(name, (queue = this.#make(name)));
    return queue;
  }

  /** The queue a test type's jobs go through. */
  of(testType: TestType): TestQueue {
    return this.named(queueNameOf(testType));
  }

  /** Every test queue, the default one first. */
  get all(): TestQueue[] {
    return TEST_QUEUE_NAMES.map((name) => this.named(name));
  }

  add(name: string, data: TestJobData, opts?: JobsOptions): Promise<TestJob> {
    return this.of(data.testType).add(name, data, opts);
  }

  /** One `addBulk` per queue the jobs go to (each atomic on its own); the jobs in the order given. */
  async addBulk(jobs: { name: string; data: TestJobData; opts?: JobsOptions }[]): Promise<TestJob[]> {
    const byQueue = new Map<TestQueueName, number[]>();
    jobs.forEach((job, i) => {
      const name = queueNameOf(job.data.testType);
      byQueue.set(name, [...(byQueue.get(name) ?? []), i]);
    });
    const out: TestJob[] = new Array(jobs.length);
    await Promise.all(
      [...byQueue].map(async ([name, indexes]) => {
        const added = await this.named(name).addBulk(indexes.map((i) => jobs[i]!));
        indexes.forEach((i, k) => (out[i] = added[k]!));
      }),
    );
    return out;
  }

  async getJob(jobId: string): Promise<TestJob | undefined> {
    const found = await Promise.all(this.all.map((q) => q.getJob(jobId)));
    return found.find((job) => job !== undefined);
  }

  async getJobState(jobId: string): Promise<JobState | 'unknown'> {
    const states = await Promise.all(this.all.map((q) => q.getJobState(jobId)));
    return states.find((state) => state !== 'unknown') ?? 'unknown';
  }

  /**
   * Removes the job from the queue that holds it: BullMQ's answer, 0 when it is locked (running);
   * 1 when no queue holds it, as BullMQ answers for an unknown id.
   */
  async remove(jobId: string): Promise<number> {
    const states = await Promise.all(this.all.map((q) => q.getJobState(jobId)));
    const holder = this.all[states.findIndex((state) => state !== 'unknown')];
    return holder ? holder.remove(jobId) : 1;
  }

  /** The jobs of every queue in those states, summed. */
  async getJobCounts(...types: JobState[]): Promise<Record<string, number>> {
    const sum: Record<string, number> = {};
    for (const counts of await Promise.all(this.all.map((q) => q.getJobCounts(...types)))) {
      for (const [state, n] of Object.entries(counts)) sum[state] = (sum[state] ?? 0) + n;
    }
    return sum;
  }

  async waitUntilReady(): Promise<void> {
    await Promise.all(this.all.map((q) => q.waitUntilReady()));
  }

  /** Closes the queues made so far. */
  async close(): Promise<void> {
    await Promise.all([...this.#made.values()].map((q) => q.close()));
  }
}
