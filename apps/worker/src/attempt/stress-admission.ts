import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import { TestTypes } from '@crucible/contracts';
import type { EventLog, StressConfig, StressConnectionStore, TestJobData } from '@crucible/contracts';
import { parseTestConfig } from '../config.js';
import { EngineError } from '../errors.js';
import { waitAndRetry } from './waiting.js';
import type { WorkspaceLimits } from './workspace-limits.js';

/**
 * Stress connections are capped per workspace, not only per test: a stress test holds its
 * connections in `store` while it runs, and one that would take its workspace past its cap stays
 * queued (its job delayed, its row `queued`, its waiting reason noted) and asks again every
 * `retryMs`. Its connections are never cut to fit.
 */
export interface StressConnectionLimits {
  store: StressConnectionStore;
  /** Connections one workspace's running stress tests may hold together (`WORKSPACE_MAX_STRESS_CONNECTIONS`). */
  perOwner: number;
  /** A workspace's own cap (an instance admin's override). @defaultValue `perOwner` for every workspace */
  perWorkspace?: WorkspaceLimits;
  /** What the engine holds one test to, whatever it asks (`STRESS_MAX_CONNECTIONS`). */
  perTest: number;
  /** How long a test that does not fit waits before it asks again. @defaultValue 1000 */
  retryMs?: number;
}

/** Runs one attempt of a job; `refused` fails it at once, as the attempt's own error. */
export type RunAttempt<O> = (
  job: Job<TestJobData>,
  token: string | undefined,
  signal: AbortSignal | undefined,
  refused?: EngineError,
) => Promise<O>;

/**
 * Admits stress tests to `runAttempt` only while their workspace's connections fit under the cap:
 * one that does not fit is delayed (and its waiting reason published), one that could never fit
 * fails at once; other test types pass straight through.
 */
export function withStressAdmission<O>(
  runAttempt: RunAttempt<O>,
  limits: StressConnectionLimits,
  deps: { eventLog: EventLog; logger: Logger },
): (job: Job<TestJobData>, token?: string, signal?: AbortSignal) => Promise<O> {
  const { eventLog, logger } = deps;
  const retryMs = limits.retryMs ?? 1_000;
  return async (job, token, signal) => {
    if (job.data.testType !== TestTypes.STRESS) return runAttempt(job, token, signal);
    const { testId, userId, workspaceId } = job.data;
    const perOwner =
      workspaceId && limits.perWorkspace
        ? ((await limits.perWorkspace(workspaceId)).stressConnections ?? limits.perOwner)
        : limits.perOwner;
    let connections: number;
    try {
      const config = parseTestConfig(TestTypes.STRESS, job.data.config) as StressConfig;
      connections = Math.min(config.connections ?? 10, limits.perTest);
    } catch {
      // The attempt fails it as an invalid config, without holding anything.
      return runAttempt(job, token, signal);
    }
    if (connections > perOwner) {
      return runAttempt(
        job,
        token,
        signal,
        new EngineError(
          'OVER_WORKSPACE_LIMIT',
          `this test needs ${connections} connections; one workspace's stress tests may hold ${perOwner} at once`,
        ),
      );
    }
    // The owner is the workspace; a job from before workspaces, its user; neither, one shared budget.
    const owner = workspaceId ?? userId ?? 'no-owner';
    const hold = await limits.store.reserve(owner, testId, connections, perOwner);
    if (!hold.granted) {
      const reason =
        `waiting for stress connections: this test needs ${connections}, and ${hold.inUse} of the ` +
        `${perOwner} one workspace's stress tests may hold at once are in use`;
      return waitAndRetry(job, token, reason, { store: limits.store, eventLog, logger, retryMs });
    }
    try {
      return await runAttempt(job, token, signal);
    } finally {
      await limits.store
        .release(owner, testId)
        .catch((err: unknown) =>
          logger.warn({ err, testId }, 'could not release stress connections; their lease lapses'),
        );
    }
  };
}
