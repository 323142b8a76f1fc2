import type { SecurityFinding, SecurityResult, SecuritySeverity } from '@crucible/contracts';

const PENALTY: Record<SecuritySeverity, number> = { high: 25, medium: 10, low: 3, info: 0 };

/** 100 minus each finding's penalty (never below 0), and the findings counted by severity. */
export function scoreFindings(findings: SecurityFinding[]): {
  score: number;
  counts: Record<SecuritySeverity, number>;
} {
  const counts: Record<SecuritySeverity, number> = { high: 0, medium: 0, low: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  return { score: Math.max(0, 100 - findings.reduce((s, f) => s + PENALTY[f.severity], 0)), counts };
}

/** What was observed, before it is scored. */
export type SecurityObservations = Omit<SecurityResult, 'score' | 'counts' | 'summary'>;

/** The result of a scan: the observations, scored. */
export function securityResult(observed: SecurityObservations): SecurityResult {
  const { url, finalUrl, status, findings, headers, cookies, tls, cors, methods, limits } = observed;
  const { score, counts } = scoreFindings(findings);
  return {
    url,
    finalUrl,
    status,
    score,
    counts,
    findings,
    headers,
    cookies,
    tls,
    cors,
    methods,
    summary: { score, counts },
    limits,
  };
}
