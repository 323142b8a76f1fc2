import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import { TestTypes } from '@crucible/contracts';
import type { EventLog, StressConnectionStore, TestJobData } from '@crucible/contracts';
import { waitAndRetry } from './waiting.js';

/**
 * Per-target protection: at most `perHost` stress tests run against one host at once across the
 * deployment, the host known by the address the egress guard resolves its name to (what the stress
 * engine then dials), so two names of one server share its slots. A test past it stays queued and
 * asks again every `retryMs`; the slot is a hold in `store` (a lease its worker renews, lapsing with
 * the worker) given back when the attempt ends, whatever its outcome.
 */
export interface HostCapLimits {
  /** The backplane's `targetHosts`: its owners are hosts, each test holding 1. */
  store: StressConnectionStore;
  /** Stress tests against one host at once (`TARGET_HOST_MAX_CONCURRENT`). */
  perHost: number;
  /**
   * The host a URL's requests go to: the egress guard's resolution of its name (IPv6 without
   * brackets). Throws what the guard refuses, and the attempt then fails as the engine would.
   */
  hostOf(url: string): Promise<string>;
  /** How long a test that may not start waits before it asks again. @defaultValue 1000 */
  retryMs?: number;
}

type Attempt<O> = (job: Job<TestJobData>, token?: string, signal?: AbortSignal) => Promise<O>;

/** Words for the Queue page and the test page. */
export function hostCapReason(running: number): string {
  return running === 1
    ? 'waiting: 1 stress test already runs against this host'
    : `waiting: ${running} stress tests already run against this host`;
}

/** Admits stress tests to `attempt` only while their target host has a free slot; others pass. */
export function withHostCap<O>(
  attempt: Attempt<O>,
  limits: HostCapLimits,
  deps: { eventLog: EventLog; logger: Logger },
): Attempt<O> {
  const retryMs = limits.retryMs ?? 1_000;
  return async (job, token, signal) => {
    if (job.data.testType !== TestTypes.STRESS) return attempt(job, token, signal);
    let host: string;
    try {
      host = await limits.hostOf(job.data.url);
    } catch {
      // Refused or unresolvable: the attempt fails it as the engine's guard does, holding nothing.
      return attempt(job, token, signal);
    }
    const { testId } = job.data;
    const slot = await limits.store.reserve(host, testId, 1, limits.perHost);
    if (!slot.granted) {
      return waitAndRetry(job, token, hostCapReason(slot.inUse), {
        store: limits.store,
        eventLog: deps.eventLog,
        logger: deps.logger,
        retryMs,
      });
    }
    try {
      return await attempt(job, token, signal);
    } finally {
      await limits.store
        .release(host, testId)
        .catch((err: unknown) =>
          deps.logger.warn({ err, testId }, 'could not release the host slot; its lease lapses'),
        );
    }
  };
}
