import type { SecurityFinding, SecurityResult } from '@crucible/contracts';
import type { EgressResponse } from '@crucible/egress';
import { header } from '../support.js';

/** The foreign origin sent to probe CORS: a reserved name that no real site trusts. */
export const CORS_PROBE_ORIGIN = 'https://crucible-cors-probe.invalid';

/** What a probe got: the response, or the error that stopped it (a finding, not a failure). */
export type ProbeAnswer = EgressResponse | Error;

export type CorsReport = SecurityResult['cors'];

/** What the answer to a request from {@link CORS_PROBE_ORIGIN} allows. */
export function corsReport(answer: ProbeAnswer): CorsReport {
  if (answer instanceof Error) return { allowOrigin: null, allowCredentials: false };
  return {
    allowOrigin: header(answer, 'access-control-allow-origin'),
    allowCredentials: header(answer, 'access-control-allow-credentials')?.toLowerCase() === 'true',
  };
}

/** A foreign origin reflected (worse with credentials), or every origin allowed. */
export function corsFindings({ allowOrigin, allowCredentials }: CorsReport): SecurityFinding[] {
  if (allowOrigin === CORS_PROBE_ORIGIN || allowOrigin === 'null')
    return [
      {
        id: 'cors-reflects-origin',
        category: 'cors',
        severity: allowCredentials ? 'high' : 'medium',
        title: 'CORS trusts any origin',
        detail: `a request from ${CORS_PROBE_ORIGIN} was answered with Access-Control-Allow-Origin: ${allowOrigin}${allowCredentials ? ' and credentials allowed' : ''}`,
        fix: 'Answer Access-Control-Allow-Origin only for an explicit list of trusted origins.',
      },
    ];
  if (allowOrigin === '*')
    return [
      {
        id: 'cors-wildcard',
        category: 'cors',
        severity: 'low',
        title: 'CORS allows every origin',
        detail: 'Access-Control-Allow-Origin: *',
        fix: 'Fine for public data; otherwise name the trusted origins.',
      },
    ];
  return [];
}

/** The Allow header of the answer to OPTIONS, or null. */
export function allowedMethods(answer: ProbeAnswer): string | null {
  return answer instanceof Error ? null : header(answer, 'allow');
}

/** Methods that change or echo state, advertised in `allow`. */
export function methodFindings(allow: string | null): SecurityFinding[] {
  const risky = (allow ?? '')
    .toUpperCase()
    .split(/\s*,\s*/)
    .filter((m) => ['PUT', 'DELETE', 'TRACE', 'CONNECT'].includes(m));
  if (risky.length === 0) return [];
  return [
    {
      id: 'methods-advertised',
      category: 'methods',
      severity: 'low',
      title: `The server advertises ${risky.join(', ')}`,
      detail: `Allow: ${allow}`,
      fix: 'Disable the methods the site does not need, or make sure they require authentication.',
    },
  ];
}

/** The status the server answered TRACE with, or null. */
export function traceStatus(answer: ProbeAnswer): number | null {
  return answer instanceof Error ? null : answer.status;
}

/** TRACE answered by echoing the request back. */
export function traceFindings(answer: ProbeAnswer): SecurityFinding[] {
  if (answer instanceof Error || answer.status !== 200 || !/^TRACE /.test(answer.body.toString('latin1')))
    return [];
  return [
    {
      id: 'trace-enabled',
      category: 'methods',
      severity: 'medium',
      title: 'TRACE is enabled',
      detail: 'the server echoes requests back (cross-site tracing)',
      fix: 'Disable TRACE on the server.',
    },
  ];
}
