import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import { runningQuotaReason } from '@crucible/contracts';
import type { EventLog, StressConnectionStore, TestJobData } from '@crucible/contracts';
import { waitAndRetry } from './waiting.js';
import type { WorkspaceLimits } from './workspace-limits.js';

/**
 * Tests running at once per workspace (`WORKSPACE_MAX_RUNNING`, DESIGN.md "Quotas"): a test holds
 * one slot of its workspace in the backplane's hold store while it runs (the stress connections'
 * store, under the owner `{workspaceId}:running`: atomic across workers, leased, released at the
 * end), and one that finds them all taken stays queued — its job delayed without using an attempt,
 * its waiting reason noted — and asks again every `retryMs`. Never refused.
 */
export interface RunningQuota {
  store: StressConnectionStore;
  limits: WorkspaceLimits;
  /** How long a test that finds no slot waits before it asks again. @defaultValue 2000 */
  retryMs?: number;
}

type Run<O> = (job: Job<TestJobData>, token?: string, signal?: AbortSignal) => Promise<O>;

/** Lets a test through to `run` while its workspace has a running slot free; jobs without a workspace pass. */
export function withRunningQuota<O>(
  run: Run<O>,
  quota: RunningQuota,
  deps: { eventLog: EventLog; logger: Logger },
): Run<O> {
  const retryMs = quota.retryMs ?? 2_000;
  return async (job, token, signal) => {
    const { testId, workspaceId } = job.data;
    if (!workspaceId) return run(job, token, signal);
    const limit = (await quota.limits(workspaceId)).running;
    if (limit === null) return run(job, token, signal);
    const owner = `${workspaceId}:running`;
    const hold = await quota.store.reserve(owner, testId, 1, limit);
    if (!hold.granted)
      return waitAndRetry(job, token, runningQuotaReason(limit), {
        store: quota.store,
        eventLog: deps.eventLog,
        logger: deps.logger,
        retryMs,
      });
    try {
      return await run(job, token, signal);
    } finally {
      await quota.store
        .release(owner, testId)
        .catch((err: unknown) =>
          deps.logger.warn({ err, testId }, 'could not release a running slot; its lease lapses'),
        );
    }
  };
}
