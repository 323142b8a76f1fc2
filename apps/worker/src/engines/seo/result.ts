import type { SeoCheck, SeoCheckStatus, SeoResult } from '@crucible/contracts';

/** 0–100: passes count 1, warnings ½, failures 0; and the checks counted by status. */
export function scoreChecks(checks: SeoCheck[]): { score: number; counts: Record<SeoCheckStatus, number> } {
  const counts: Record<SeoCheckStatus, number> = { pass: 0, warn: 0, fail: 0 };
  for (const c of checks) counts[c.status]++;
  return { score: Math.round((100 * (counts.pass + counts.warn / 2)) / checks.length), counts };
}

/** What to do, failures first, then warnings, each in the order of the checks. */
export function recommendations(checks: SeoCheck[]): string[] {
  return [...checks.filter((c) => c.status === 'fail'), ...checks.filter((c) => c.status === 'warn')]
    .map((c) => c.recommendation)
    .filter((r): r is string => r !== undefined);
}

/** What was observed, before it is scored. */
export type SeoObservations = Omit<SeoResult, 'score' | 'counts' | 'recommendations' | 'summary'>;

/** The result of an analysis: the observations, scored, with what to do about them. */
export function seoResult(observed: SeoObservations): SeoResult {
  const { url, finalUrl, status, checks, links, limits } = observed;
  const { score, counts } = scoreChecks(checks);
  return {
    url,
    finalUrl,
    status,
    score,
    counts,
    checks,
    links,
    recommendations: recommendations(checks),
    summary: { score, counts },
    limits,
  };
}
