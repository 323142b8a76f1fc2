import { Quotas, effectiveQuotas } from '@crucible/contracts';
import type { Quota, QuotaLimits } from '@crucible/contracts';
import type { WorkspaceQuotasView, WorkspaceUsage } from '@crucible/contracts/api';
import type { RateLimiter } from '@crucible/backplane';
import type { QuotaOverrideValues, WorkspaceQuotasRepository } from '@crucible/db';
import { HttpProblem } from '../../errors.js';

export interface QuotasDeps {
  repository: Pick<WorkspaceQuotasRepository, 'overridesOf' | 'setOverrides' | 'usage'>;
  /** The deployment's defaults (`WORKSPACE_MAX_QUEUED`…). */
  defaults: QuotaLimits;
  /** Counts each workspace's submissions per minute, shared by every api process. */
  submissions: RateLimiter;
  /**
   * How long a workspace's limits are remembered: an override made in another api process applies
   * here within it (at once in the process that made it). @defaultValue 5000
   */
  cacheTtlMs?: number;
  now?: () => number;
}

/** The rate limiter's window: submissions are counted per minute. */
export const SUBMIT_WINDOW_SEC = 60;

/** How long a workspace over its queued quota is asked to wait: one of its queued tests must start. */
export const QUEUED_RETRY_AFTER_SEC = 30;

/** 429 `QUOTA_EXCEEDED`, naming the quota and its limit, with `Retry-After`. */
export function quotaExceeded(
  quota: Quota,
  limit: number,
  retryAfterSec: number,
  detail: string,
): HttpProblem {
  const seconds = Math.max(1, Math.ceil(retryAfterSec));
  return new HttpProblem(
    429,
    'QUOTA_EXCEEDED',
    'Too Many Requests',
    `${detail}; try again in ${seconds} s.`,
    {
      headers: { 'retry-after': String(seconds) },
      extensions: { quota, limit },
    },
  );
}

/** The next midnight UTC after `now`: when a day's stress budget starts again. */
export function nextUtcMidnight(now: number): Date {
  const d = new Date(now);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1));
}

/**
 * The workspaces' quotas as the api applies them: limits (defaults under an instance admin's
 * overrides, remembered for a few seconds), the per-minute submission count and the usage view.
 */
export function createQuotas(deps: QuotasDeps) {
  const ttl = deps.cacheTtlMs ?? 5_000;
  const now = deps.now ?? Date.now;
  const cached = new Map<string, { limits: QuotaLimits; until: number }>();

  async function limitsOfMany(workspaceIds: readonly string[]): Promise<Map<string, QuotaLimits>> {
    const out = new Map<string, QuotaLimits>();
    const missing: string[] = [];
    const t = now();
    for (const id of workspaceIds) {
      const hit = cached.get(id);
      if (hit && hit.until > t) out.set(id, hit.limits);
      else missing.push(id);
    }
    if (missing.length === 0) return out;
    const overrides = await deps.repository.overridesOf(missing);
    for (const id of missing) {
      const limits = effectiveQuotas(deps.defaults, overrides.get(id));
      cached.set(id, { limits, until: t + ttl });
      out.set(id, limits);
    }
    return out;
  }

  async function limitsOf(workspaceId: string): Promise<QuotaLimits> {
    return (await limitsOfMany([workspaceId])).get(workspaceId)!;
  }

  /**
   * Counts a flush's submissions of each workspace in the current minute, one counter call per
   * workspace (atomic, shared by every api process): of `counts.get(id)` submissions, `taken` fit
   * under the workspace's limit and count; the rest are refused (`refusal`, 429 `submitRate`) and
   * not counted. Submissions taken that then store nothing (refused by another quota, a replay, a
   * failure) are given back with {@link giveBackSubmissions}.
   */
  async function takeSubmissions(
    counts: ReadonlyMap<string, number>,
    limits: ReadonlyMap<string, QuotaLimits>,
  ): Promise<Map<string, { taken: number; refusal?: HttpProblem }>> {
    const out = new Map<string, { taken: number; refusal?: HttpProblem }>();
    await Promise.all(
      [...counts].map(async ([workspaceId, n]) => {
        const submitRate = limits.get(workspaceId)?.submitRate ?? null;
        if (submitRate === null || n === 0) {
          out.set(workspaceId, { taken: n });
          return;
        }
        const res = await deps.submissions.consume(workspaceId, n);
        const taken = Math.max(0, Math.min(n, submitRate - (res.consumedPoints - n)));
        if (taken === n) {
          out.set(workspaceId, { taken });
          return;
        }
        await deps.submissions.reward(workspaceId, n - taken).catch(() => undefined);
        out.set(workspaceId, {
          taken,
          refusal: quotaExceeded(
            Quotas.SUBMIT_RATE,
            submitRate,
            res.msBeforeNext / 1000,
            `This workspace may submit ${submitRate} tests a minute`,
          ),
        });
      }),
    );
    return out;
  }

  /** Gives back submissions counted by {@link takeSubmissions} that stored nothing. */
  async function giveBackSubmissions(counts: ReadonlyMap<string, number>): Promise<void> {
    await Promise.all(
      [...counts]
        .filter(([, n]) => n > 0)
        .map(([workspaceId, n]) => deps.submissions.reward(workspaceId, n).catch(() => undefined)),
    );
  }

  async function usage(workspaceId: string): Promise<WorkspaceUsage> {
    const [limits, counts, window] = await Promise.all([
      limitsOf(workspaceId),
      deps.repository.usage(workspaceId),
      deps.submissions.get(workspaceId),
    ]);
    const t = now();
    return {
      workspaceId,
      queued: { used: counts.queued, limit: limits.queued },
      running: { used: counts.running, limit: limits.running },
      stressBudget: {
        used: counts.stressToday,
        limit: limits.stressBudget,
        resetsAt: nextUtcMidnight(t).toISOString(),
      },
      submitRate: {
        used: window ? Math.max(0, window.consumedPoints) : 0,
        limit: limits.submitRate,
        resetsAt: new Date(t + (window ? window.msBeforeNext : 0)).toISOString(),
      },
      stressConnections: { limit: limits.stressConnections },
    };
  }

  function view(workspaceId: string, overrides: QuotaOverrideValues): WorkspaceQuotasView {
    return { workspaceId, overrides, limits: effectiveQuotas(deps.defaults, overrides) };
  }

  return {
    limitsOf,
    limitsOfMany,
    takeSubmissions,
    giveBackSubmissions,
    usage,
    async overrides(workspaceId: string): Promise<WorkspaceQuotasView> {
      const found = await deps.repository.overridesOf([workspaceId]);
      return view(workspaceId, found.get(workspaceId) ?? emptyOverrides());
    },
    async setOverrides(
      workspaceId: string,
      changes: Partial<QuotaOverrideValues>,
    ): Promise<WorkspaceQuotasView> {
      const overrides = await deps.repository.setOverrides(workspaceId, changes);
      cached.delete(workspaceId);
      return view(workspaceId, overrides);
    },
  };
}

const emptyOverrides = (): QuotaOverrideValues => ({
  queued: null,
  running: null,
  stressBudget: null,
  submitRate: null,
  stressConnections: null,
});

export type QuotasService = ReturnType<typeof createQuotas>;
