import { effectiveQuotas } from '@crucible/contracts';
import type { QuotaLimits } from '@crucible/contracts';
import type { WorkspaceQuotasRepository } from '@crucible/db';

/** A workspace's quotas as the worker holds tests to them. */
export interface WorkspaceLimits {
  (workspaceId: string): Promise<QuotaLimits>;
  /**
   * The limits last read for the workspace, at once (the defaults before the first read, which this
   * starts): for the dispatcher, whose pick is synchronous.
   */
  peek(workspaceId: string): QuotaLimits;
}

/**
 * The deployment's defaults under each workspace's overrides (an instance admin's), remembered for
 * `ttlMs`: a changed override reaches every worker within it. A lookup that fails (PostgreSQL
 * away) holds the test to the defaults rather than fail it.
 */
export function workspaceLimits(
  repository: Pick<WorkspaceQuotasRepository, 'overridesOf'>,
  defaults: QuotaLimits,
  ttlMs = 5_000,
): WorkspaceLimits {
  const cached = new Map<string, { limits: Promise<QuotaLimits>; until: number }>();
  const known = new Map<string, QuotaLimits>();
  const read = (workspaceId: string): Promise<QuotaLimits> => {
    const now = Date.now();
    const hit = cached.get(workspaceId);
    if (hit && hit.until > now) return hit.limits;
    if (cached.size > 10_000) {
      cached.clear();
      known.clear();
    }
    const limits = repository
      .overridesOf([workspaceId])
      .then((found) => effectiveQuotas(defaults, found.get(workspaceId)))
      .catch(() => defaults)
      .then((l) => (known.set(workspaceId, l), l));
    cached.set(workspaceId, { limits, until: now + ttlMs });
    return limits;
  };
  return Object.assign(read, {
    peek(workspaceId: string): QuotaLimits {
      void read(workspaceId);
      return known.get(workspaceId) ?? defaults;
    },
  });
}
