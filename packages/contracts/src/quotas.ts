/**
 * Workspace quotas (DESIGN.md, "Quotas"): what one workspace may have queued, running, submitted
 * per minute and spent on stress per day. Defaults come from the deployment's variables; an
 * instance admin may override each per workspace. Browser-safe: the dashboard shows usage
 * against them by these names.
 */

/** The quotas, as the `quota` member of a 429 `QUOTA_EXCEEDED` and the keys of a workspace's usage. */
export const Quotas = {
  /** Tests queued at once (`WORKSPACE_MAX_QUEUED`): past it a submission is refused. */
  QUEUED: 'queued',
  /** Tests running at once (`WORKSPACE_MAX_RUNNING`): past it tests wait queued, never refused. */
  RUNNING: 'running',
  /** Stress connection-seconds accepted per UTC day (`WORKSPACE_STRESS_BUDGET`). */
  STRESS_BUDGET: 'stressBudget',
  /** Submissions per minute (`WORKSPACE_SUBMIT_RATE`). */
  SUBMIT_RATE: 'submitRate',
  /** Connections the workspace's running stress tests hold together (`WORKSPACE_MAX_STRESS_CONNECTIONS`). */
  STRESS_CONNECTIONS: 'stressConnections',
} as const;
export type Quota = (typeof Quotas)[keyof typeof Quotas];

/** Every quota's limit; null: no limit (a variable set to 0). */
export type QuotaLimits = Record<Quota, number | null>;

/** The deployment's defaults when no variable is set. */
export const DEFAULT_QUOTA_LIMITS: QuotaLimits = {
  queued: 1_000,
  running: 10,
  // 200 connections (the most one stress test may open) for an hour a day.
  stressBudget: 720_000,
  submitRate: 120,
  stressConnections: 200,
};

/** A workspace's limits: its overrides (null: the default) over the deployment's defaults. */
export function effectiveQuotas(
  defaults: QuotaLimits,
  overrides: Partial<Record<Quota, number | null>> | undefined,
): QuotaLimits {
  const out = { ...defaults };
  for (const quota of Object.values(Quotas)) {
    const value = overrides?.[quota];
    if (value !== undefined && value !== null) out[quota] = value === 0 ? null : value;
  }
  return out;
}

/**
 * What a stress test costs of its workspace's daily budget, in connection-seconds: its connections
 * for its ramp-up and duration, once per run. Charged when it is accepted, whatever it then uses.
 */
export function stressConnectionSeconds(
  config: { connections?: number; durationSec?: number; rampUpSec?: number },
  runs = 1,
): number {
  return (config.connections ?? 10) * ((config.durationSec ?? 10) + (config.rampUpSec ?? 0)) * runs;
}

/** Why a test waits while its workspace runs as many tests as its running quota allows. */
export const runningQuotaReason = (limit: number) =>
  `quota: the workspace runs ${limit} ${limit === 1 ? 'test' : 'tests'} at once, its limit; this one starts when one ends`;
