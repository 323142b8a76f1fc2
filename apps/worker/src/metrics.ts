import type { Job } from 'bullmq';
import { Counter, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { TestJobData } from '@crucible/contracts';
import type { TestQueueWorker } from '@crucible/backplane';

/** Seconds; tests run from under a second (one request) to minutes (stress). */
const DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * Job figures of this worker process: `crucible_jobs_completed_total{type}`,
 * `crucible_jobs_failed_total{type, final}` (final: no attempt left) and
 * `crucible_job_duration_seconds{type, outcome}` (processing time of one attempt).
 */
export function instrumentWorker<R>(workers: TestQueueWorker<R>[], registry: Registry): void {
  const completed = new Counter({
    name: 'crucible_jobs_completed_total',
    help: 'Jobs that finished with a result, by test type',
    labelNames: ['type'],
    registers: [registry],
  });
  const failed = new Counter({
    name: 'crucible_jobs_failed_total',
    help: 'Failed job attempts by test type; final="true" when no attempt is left',
    labelNames: ['type', 'final'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'crucible_job_duration_seconds',
    help: 'Processing time of one job attempt by test type and outcome',
    labelNames: ['type', 'outcome'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const observe = (
    job: Pick<Job<TestJobData>, 'data' | 'processedOn' | 'finishedOn'>,
    outcome: 'completed' | 'failed',
  ) => {
    if (job.processedOn && job.finishedOn) {
      duration.observe({ type: job.data.testType, outcome }, (job.finishedOn - job.processedOn) / 1000);
    }
  };
  for (const worker of workers) {
    worker.on('completed', (job) => {
      completed.inc({ type: job.data.testType });
      observe(job, 'completed');
    });
    worker.on('failed', (job) => {
      // BullMQ emits 'failed' without a job when one cannot be read back (stalled past its limit).
      if (!job) return;
      const final = job.attemptsMade >= (job.opts.attempts ?? 1);
      failed.inc({ type: job.data.testType, final: String(final) });
      observe(job, 'failed');
    });
  }
}
