import type { SecurityFinding } from '@crucible/contracts';
import type { EgressResponse } from '@crucible/egress';
import { header } from '../support.js';

/** Six months: the least HSTS max-age that preload lists and most guides accept. */
const HSTS_MIN_MAX_AGE = 15_552_000;

const SECURITY_HEADERS = [
  'strict-transport-security',
  'content-security-policy',
  'x-frame-options',
  'x-content-type-options',
  'referrer-policy',
  'permissions-policy',
] as const;

/** The security headers of a response, each null when absent, in a fixed order. */
export function securityHeaders(res: Pick<EgressResponse, 'headers'>): Record<string, string | null> {
  return Object.fromEntries(SECURITY_HEADERS.map((h) => [h, header(res, h)]));
}

type HeaderValue = string | null | undefined;

/** HSTS matters only over HTTPS: missing, or a max-age too short to outlast a visit gap. */
function hstsFinding(hsts: HeaderValue, https: boolean): SecurityFinding | null {
  if (!https) return null;
  if (!hsts)
    return {
      id: 'hsts-missing',
      category: 'headers',
      severity: 'medium',
      title: 'No Strict-Transport-Security',
      detail: 'browsers may still try plain HTTP first, open to downgrade',
      fix: 'Send "Strict-Transport-Security: max-age=31536000; includeSubDomains".',
    };
  const maxAge = Number(/max-age\s*=\s*"?(\d+)/i.exec(hsts)?.[1] ?? 0);
  if (maxAge >= HSTS_MIN_MAX_AGE) return null;
  return {
    id: 'hsts-short',
    category: 'headers',
    severity: 'low',
    title: 'Strict-Transport-Security max-age is short',
    detail: `max-age=${maxAge} (less than 180 days)`,
    fix: 'Raise max-age to at least 15552000 (a year, 31536000, is usual).',
  };
}

/** No CSP at all, or script sources that allow inline scripts without nonces or hashes. */
function cspFinding(csp: HeaderValue): SecurityFinding | null {
  if (!csp)
    return {
      id: 'csp-missing',
      category: 'headers',
      severity: 'medium',
      title: 'No Content-Security-Policy',
      detail: 'nothing limits where scripts may come from, so an injection runs freely',
      fix: 'Send a Content-Security-Policy, starting from "default-src \'self\'" and opening what the site needs.',
    };
  const scriptSrc =
    /(?:^|;)\s*script-src\s+([^;]*)/i.exec(csp)?.[1] ??
    /(?:^|;)\s*default-src\s+([^;]*)/i.exec(csp)?.[1] ??
    '';
  if (!/'unsafe-inline'/i.test(scriptSrc) || /'nonce-|'sha(256|384|512)-/i.test(scriptSrc)) return null;
  return {
    id: 'csp-unsafe-inline',
    category: 'headers',
    severity: 'low',
    title: "Content-Security-Policy allows 'unsafe-inline' scripts",
    detail: `script sources: ${scriptSrc.trim()}`,
    fix: "Replace 'unsafe-inline' with nonces or hashes for the inline scripts you need.",
  };
}

/** Framing is limited by either X-Frame-Options or CSP frame-ancestors. */
function framingFinding(xFrameOptions: HeaderValue, csp: HeaderValue): SecurityFinding | null {
  const frameAncestors = csp !== null && csp !== undefined && /(?:^|;)\s*frame-ancestors\s/i.test(csp);
  if (xFrameOptions || frameAncestors) return null;
  return {
    id: 'clickjacking',
    category: 'headers',
    severity: 'medium',
    title: 'The page may be framed by any site',
    detail: 'neither X-Frame-Options nor CSP frame-ancestors is set',
    fix: 'Send "Content-Security-Policy: frame-ancestors \'self\'" (or X-Frame-Options: DENY).',
  };
}

function nosniffFinding(xContentTypeOptions: HeaderValue): SecurityFinding | null {
  if ((xContentTypeOptions ?? '').toLowerCase() === 'nosniff') return null;
  return {
    id: 'nosniff-missing',
    category: 'headers',
    severity: 'low',
    title: 'No X-Content-Type-Options: nosniff',
    detail: 'browsers may guess content types and run a file as script',
    fix: 'Send "X-Content-Type-Options: nosniff".',
  };
}

/** No Referrer-Policy, or one whose effective (last) policy sends full URLs elsewhere. */
function referrerFinding(referrerPolicy: HeaderValue): SecurityFinding | null {
  const referrer = referrerPolicy?.toLowerCase() ?? null;
  if (!referrer)
    return {
      id: 'referrer-policy-missing',
      category: 'headers',
      severity: 'low',
      title: 'No Referrer-Policy',
      detail: 'full URLs may leak to other sites in the Referer header',
      fix: 'Send "Referrer-Policy: strict-origin-when-cross-origin".',
    };
  const effective = referrer
    .split(',')
    .map((s) => s.trim())
    .at(-1);
  if (!referrer.includes('unsafe-url') && effective !== 'no-referrer-when-downgrade') return null;
  return {
    id: 'referrer-policy-weak',
    category: 'headers',
    severity: 'low',
    title: 'Referrer-Policy leaks full URLs',
    detail: `Referrer-Policy: ${referrer}`,
    fix: 'Use "strict-origin-when-cross-origin" or stricter.',
  };
}

function permissionsFinding(permissionsPolicy: HeaderValue): SecurityFinding | null {
  if (permissionsPolicy) return null;
  return {
    id: 'permissions-policy-missing',
    category: 'headers',
    severity: 'info',
    title: 'No Permissions-Policy',
    detail: 'powerful features (camera, geolocation…) are not restricted',
    fix: 'Send a Permissions-Policy that disables what the site does not use, e.g. "camera=(), geolocation=()".',
  };
}

/** Findings from the response headers alone: pure, so each rule can be unit-tested. */
export function headerFindings(headers: Record<string, string | null>, https: boolean): SecurityFinding[] {
  const csp = headers['content-security-policy'];
  return [
    hstsFinding(headers['strict-transport-security'], https),
    cspFinding(csp),
    framingFinding(headers['x-frame-options'], csp),
    nosniffFinding(headers['x-content-type-options']),
    referrerFinding(headers['referrer-policy']),
    permissionsFinding(headers['permissions-policy']),
  ].filter((f): f is SecurityFinding => f !== null);
}
