import type { SecurityConfig } from '@crucible/shared';
import type { TlsInfo } from '@crucible/shared/egress';
import { EngineError, abortReason, errorMessage, throwIfRefused } from '../errors.js';
import type { EngineContext } from './engine.js';
import { bodyText, checkedTarget, egressOf, header, parserOf } from './support.js';
import { PAGE_MAX_ELEMENTS } from '../parsing/html.js';
import type { MixedContent } from '../parsing/mixed-content.js';
import { PAGE_MAX_RESOURCES } from '../parsing/page-resources.js';

const PAGE_MAX_BYTES = 5 * 1024 * 1024;
const REQUEST_TIMEOUT_MS = 15_000;
/** The foreign origin sent to probe CORS: a reserved name that no real site trusts. */
export const CORS_PROBE_ORIGIN = 'https://crucible-cors-probe.invalid';
/** Six months: the least HSTS max-age that preload lists and most guides accept. */
const HSTS_MIN_MAX_AGE = 15_552_000;

export type Severity = 'high' | 'medium' | 'low' | 'info';

export interface SecurityFinding {
  id: string;
  category: 'headers' | 'cookies' | 'tls' | 'cors' | 'methods' | 'mixed-content' | 'disclosure' | 'transport';
  severity: Severity;
  title: string;
  /** What was seen. */
  detail: string;
  /** How to fix it. */
  fix: string;
}

export interface SecurityResult {
  url: string;
  finalUrl: string;
  status: number;
  /** 100 minus 25 per high, 10 per medium, 3 per low finding (never below 0). */
  score: number;
  counts: Record<Severity, number>;
  findings: SecurityFinding[];
  /** The security headers as the site sent them (null: absent). */
  headers: Record<string, string | null>;
  cookies: { name: string; secure: boolean; httpOnly: boolean; sameSite: string | null }[];
  tls: (TlsInfo & { expiresInDays: number | null }) | null;
  cors: { allowOrigin: string | null; allowCredentials: boolean };
  methods: { allow: string | null; trace: number | null };
  summary: { score: number; counts: Record<Severity, number> };
  /** What of an https page was searched for mixed content: its first `max` elements and findings. */
  limits: MixedContent['limits'];
}

const PENALTY: Record<Severity, number> = { high: 25, medium: 10, low: 3, info: 0 };

const SECURITY_HEADERS = [
  'strict-transport-security',
  'content-security-policy',
  'x-frame-options',
  'x-content-type-options',
  'referrer-policy',
  'permissions-policy',
] as const;

/** Findings from the response headers alone: pure, so each rule can be unit-tested. */
export function headerFindings(headers: Record<string, string | null>, https: boolean): SecurityFinding[] {
  const findings: SecurityFinding[] = [];
  const hsts = headers['strict-transport-security'];
  if (https) {
    if (!hsts) {
      findings.push({
        id: 'hsts-missing',
        category: 'headers',
        severity: 'medium',
        title: 'No Strict-Transport-Security',
        detail: 'browsers may still try plain HTTP first, open to downgrade',
        fix: 'Send "Strict-Transport-Security: max-age=31536000; includeSubDomains".',
      });
    } else {
      const maxAge = Number(/max-age\s*=\s*"?(\d+)/i.exec(hsts)?.[1] ?? 0);
      if (maxAge < HSTS_MIN_MAX_AGE)
        findings.push({
          id: 'hsts-short',
          category: 'headers',
          severity: 'low',
          title: 'Strict-Transport-Security max-age is short',
          detail: `max-age=${maxAge} (less than 180 days)`,
          fix: 'Raise max-age to at least 15552000 (a year, 31536000, is usual).',
        });
    }
  }
  const csp = headers['content-security-policy'];
  if (!csp) {
    findings.push({
      id: 'csp-missing',
      category: 'headers',
      severity: 'medium',
      title: 'No Content-Security-Policy',
      detail: 'nothing limits where scripts may come from, so an injection runs freely',
      fix: 'Send a Content-Security-Policy, starting from "default-src \'self\'" and opening what the site needs.',
    });
  } else {
    const scriptSrc =
      /(?:^|;)\s*script-src\s+([^;]*)/i.exec(csp)?.[1] ??
      /(?:^|;)\s*default-src\s+([^;]*)/i.exec(csp)?.[1] ??
      '';
    if (/'unsafe-inline'/i.test(scriptSrc) && !/'nonce-|'sha(256|384|512)-/i.test(scriptSrc)) {
      findings.push({
        id: 'csp-unsafe-inline',
        category: 'headers',
        severity: 'low',
        title: "Content-Security-Policy allows 'unsafe-inline' scripts",
        detail: `script sources: ${scriptSrc.trim()}`,
        fix: "Replace 'unsafe-inline' with nonces or hashes for the inline scripts you need.",
      });
    }
  }
  const frameAncestors = csp !== null && csp !== undefined && /(?:^|;)\s*frame-ancestors\s/i.test(csp);
  if (!headers['x-frame-options'] && !frameAncestors) {
    findings.push({
      id: 'clickjacking',
      category: 'headers',
      severity: 'medium',
      title: 'The page may be framed by any site',
      detail: 'neither X-Frame-Options nor CSP frame-ancestors is set',
      fix: 'Send "Content-Security-Policy: frame-ancestors \'self\'" (or X-Frame-Options: DENY).',
    });
  }
  if ((headers['x-content-type-options'] ?? '').toLowerCase() !== 'nosniff') {
    findings.push({
      id: 'nosniff-missing',
      category: 'headers',
      severity: 'low',
      title: 'No X-Content-Type-Options: nosniff',
      detail: 'browsers may guess content types and run a file as script',
      fix: 'Send "X-Content-Type-Options: nosniff".',
    });
  }
  const referrer = headers['referrer-policy']?.toLowerCase() ?? null;
  if (!referrer) {
    findings.push({
      id: 'referrer-policy-missing',
      category: 'headers',
      severity: 'low',
      title: 'No Referrer-Policy',
      detail: 'full URLs may leak to other sites in the Referer header',
      fix: 'Send "Referrer-Policy: strict-origin-when-cross-origin".',
    });
  } else if (
    referrer.includes('unsafe-url') ||
    referrer
      .split(',')
      .map((s) => s.trim())
      .at(-1) === 'no-referrer-when-downgrade'
  ) {
    findings.push({
      id: 'referrer-policy-weak',
      category: 'headers',
      severity: 'low',
      title: 'Referrer-Policy leaks full URLs',
      detail: `Referrer-Policy: ${referrer}`,
      fix: 'Use "strict-origin-when-cross-origin" or stricter.',
    });
  }
  if (!headers['permissions-policy']) {
    findings.push({
      id: 'permissions-policy-missing',
      category: 'headers',
      severity: 'info',
      title: 'No Permissions-Policy',
      detail: 'powerful features (camera, geolocation…) are not restricted',
      fix: 'Send a Permissions-Policy that disables what the site does not use, e.g. "camera=(), geolocation=()".',
    });
  }
  return findings;
}

export interface ParsedCookie {
  name: string;
  secure: boolean;
  httpOnly: boolean;
  sameSite: string | null;
}

export function parseSetCookie(line: string): ParsedCookie {
  const [pair, ...attrs] = line.split(';').map((s) => s.trim());
  const name = pair!.split('=')[0]!.trim();
  const lower = attrs.map((a) => a.toLowerCase());
  const sameSite = lower.find((a) => a.startsWith('samesite='))?.slice('samesite='.length) ?? null;
  return { name, secure: lower.includes('secure'), httpOnly: lower.includes('httponly'), sameSite };
}

export function cookieFindings(cookies: ParsedCookie[], https: boolean): SecurityFinding[] {
  const findings: SecurityFinding[] = [];
  for (const c of cookies) {
    if (https && !c.secure)
      findings.push({
        id: `cookie-secure:${c.name}`,
        category: 'cookies',
        severity: 'medium',
        title: `Cookie ${c.name} lacks Secure`,
        detail: 'it is also sent over plain HTTP, where anyone on the path can read it',
        fix: `Set ${c.name} with the Secure attribute.`,
      });
    if (!c.httpOnly)
      findings.push({
        id: `cookie-httponly:${c.name}`,
        category: 'cookies',
        severity: 'low',
        title: `Cookie ${c.name} lacks HttpOnly`,
        detail: 'scripts (and so an XSS) can read it',
        fix: `Set ${c.name} with HttpOnly unless scripts must read it.`,
      });
    if (c.sameSite === null)
      findings.push({
        id: `cookie-samesite:${c.name}`,
        category: 'cookies',
        severity: 'low',
        title: `Cookie ${c.name} has no SameSite`,
        detail: 'its cross-site behaviour is left to browser defaults',
        fix: `Set ${c.name} with SameSite=Lax (or Strict).`,
      });
    else if (c.sameSite === 'none' && !c.secure)
      findings.push({
        id: `cookie-samesite-none:${c.name}`,
        category: 'cookies',
        severity: 'medium',
        title: `Cookie ${c.name} is SameSite=None without Secure`,
        detail: 'browsers reject it, or send it cross-site in the clear',
        fix: `Add Secure to ${c.name}, or use SameSite=Lax.`,
      });
  }
  return findings;
}

export function tlsFindings(tls: TlsInfo, expiresInDays: number | null, host: string): SecurityFinding[] {
  const findings: SecurityFinding[] = [];
  if (tls.protocol && ['SSLv3', 'TLSv1', 'TLSv1.1'].includes(tls.protocol)) {
    findings.push({
      id: 'tls-old-protocol',
      category: 'tls',
      severity: 'high',
      title: `Obsolete ${tls.protocol}`,
      detail: `the server agreed to ${tls.protocol}`,
      fix: 'Allow TLS 1.2 and 1.3 only.',
    });
  }
  if (!tls.hostMatches) {
    findings.push({
      id: 'tls-host-mismatch',
      category: 'tls',
      severity: 'high',
      title: 'Certificate does not name the host',
      detail: `${host} is not in ${tls.certificate?.subjectAltName ?? 'the certificate'}`,
      fix: `Serve a certificate whose subjectAltName includes ${host}.`,
    });
  }
  if (expiresInDays !== null && expiresInDays < 0) {
    findings.push({
      id: 'tls-expired',
      category: 'tls',
      severity: 'high',
      title: 'Certificate expired',
      detail: `expired ${-expiresInDays} days ago (${tls.certificate?.validTo})`,
      fix: 'Renew the certificate (and automate renewal, e.g. ACME).',
    });
  } else if (expiresInDays !== null && expiresInDays < 30) {
    findings.push({
      id: 'tls-expiring',
      category: 'tls',
      severity: expiresInDays < 14 ? 'medium' : 'low',
      title: 'Certificate expires soon',
      detail: `${expiresInDays} days left (${tls.certificate?.validTo})`,
      fix: 'Renew the certificate now and automate renewal.',
    });
  }
  if (!tls.authorized && tls.hostMatches && (expiresInDays === null || expiresInDays >= 0)) {
    findings.push({
      id: 'tls-untrusted',
      category: 'tls',
      severity: 'high',
      title: 'Certificate is not trusted',
      detail: tls.authorizationError ?? 'the chain did not verify',
      fix: 'Serve a certificate from a public CA with its full intermediate chain.',
    });
  }
  return findings;
}

function score(findings: SecurityFinding[]): { score: number; counts: Record<Severity, number> } {
  const counts: Record<Severity, number> = { high: 0, medium: 0, low: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  return { score: Math.max(0, 100 - findings.reduce((s, f) => s + PENALTY[f.severity], 0)), counts };
}

/**
 * Looks at a site the way an attacker would first: security headers, cookie flags, the TLS
 * certificate and protocol, CORS with a foreign Origin, TRACE and the advertised methods, mixed
 * content and version banners. Every finding has a severity and the fix.
 */
export async function runSecurity(
  url: string,
  _config: SecurityConfig,
  ctx: EngineContext,
): Promise<SecurityResult> {
  const egress = egressOf(ctx);
  const target = checkedTarget(egress, url);
  const fetch = async (options: Parameters<typeof egress.request>[1]) => {
    try {
      // The certificate is judged here, not refused: an invalid one is a finding.
      return await egress.request(target, {
        signal: ctx.signal,
        timeoutMs: REQUEST_TIMEOUT_MS,
        rejectUnauthorized: false,
        ...options,
      });
    } catch (err) {
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      throwIfRefused(err);
      return err as Error;
    }
  };

  const page = await fetch({ maxBytes: PAGE_MAX_BYTES });
  if (page instanceof Error) {
    throw new EngineError(
      'TARGET_UNREACHABLE',
      `could not fetch ${target.toString()}: ${errorMessage(page)}`,
      { cause: page, retryable: true },
    );
  }
  const finalUrl = new URL(page.url);
  const https = finalUrl.protocol === 'https:';
  const findings: SecurityFinding[] = [];

  if (!https) {
    findings.push({
      id: 'no-https',
      category: 'transport',
      severity: 'high',
      title: 'Served over plain HTTP',
      detail: `${page.url} is not encrypted and does not redirect to https`,
      fix: 'Serve the site over HTTPS and redirect every http:// request to it.',
    });
  }
  const headers = Object.fromEntries(SECURITY_HEADERS.map((h) => [h, header(page, h)]));
  findings.push(...headerFindings(headers, https));
  await ctx.progress(25, 'headers', { findings: findings.length });

  const setCookie = page.headers['set-cookie'];
  const cookies = (Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []).map(parseSetCookie);
  findings.push(...cookieFindings(cookies, https));

  let tls: SecurityResult['tls'] = null;
  if (https && page.connection.tls) {
    const info = page.connection.tls;
    const validTo = info.certificate ? Date.parse(info.certificate.validTo) : NaN;
    const expiresInDays = Number.isNaN(validTo) ? null : Math.floor((validTo - Date.now()) / 86_400_000);
    tls = { ...info, expiresInDays };
    findings.push(...tlsFindings(info, expiresInDays, finalUrl.hostname.replace(/^\[(.*)\]$/, '$1')));
  }
  await ctx.progress(45, 'tls', { findings: findings.length });

  const cors = await fetch({ headers: { origin: CORS_PROBE_ORIGIN }, maxBytes: 0 });
  const corsReport = { allowOrigin: null as string | null, allowCredentials: false };
  if (!(cors instanceof Error)) {
    corsReport.allowOrigin = header(cors, 'access-control-allow-origin');
    corsReport.allowCredentials = header(cors, 'access-control-allow-credentials')?.toLowerCase() === 'true';
    if (corsReport.allowOrigin === CORS_PROBE_ORIGIN || corsReport.allowOrigin === 'null') {
      findings.push({
        id: 'cors-reflects-origin',
        category: 'cors',
        severity: corsReport.allowCredentials ? 'high' : 'medium',
        title: 'CORS trusts any origin',
        detail: `a request from ${CORS_PROBE_ORIGIN} was answered with Access-Control-Allow-Origin: ${corsReport.allowOrigin}${corsReport.allowCredentials ? ' and credentials allowed' : ''}`,
        fix: 'Answer Access-Control-Allow-Origin only for an explicit list of trusted origins.',
      });
    } else if (corsReport.allowOrigin === '*') {
      findings.push({
        id: 'cors-wildcard',
        category: 'cors',
        severity: 'low',
        title: 'CORS allows every origin',
        detail: 'Access-Control-Allow-Origin: *',
        fix: 'Fine for public data; otherwise name the trusted origins.',
      });
    }
  }
  await ctx.progress(60, 'cors', {});

  const options = await fetch({ method: 'OPTIONS', maxBytes: 0, maxRedirects: 0 });
  const allow = options instanceof Error ? null : header(options, 'allow');
  const risky = (allow ?? '')
    .toUpperCase()
    .split(/\s*,\s*/)
    .filter((m) => ['PUT', 'DELETE', 'TRACE', 'CONNECT'].includes(m));
  if (risky.length > 0) {
    findings.push({
      id: 'methods-advertised',
      category: 'methods',
      severity: 'low',
      title: `The server advertises ${risky.join(', ')}`,
      detail: `Allow: ${allow}`,
      fix: 'Disable the methods the site does not need, or make sure they require authentication.',
    });
  }
  const trace = await fetch({ method: 'TRACE', maxBytes: 4096, maxRedirects: 0 });
  const traceStatus = trace instanceof Error ? null : trace.status;
  if (!(trace instanceof Error) && trace.status === 200 && /^TRACE /.test(trace.body.toString('latin1'))) {
    findings.push({
      id: 'trace-enabled',
      category: 'methods',
      severity: 'medium',
      title: 'TRACE is enabled',
      detail: 'the server echoes requests back (cross-site tracing)',
      fix: 'Disable TRACE on the server.',
    });
  }
  await ctx.progress(75, 'methods', {});

  let limits: MixedContent['limits'] = {
    elements: { max: PAGE_MAX_ELEMENTS, reached: false },
    resources: { max: PAGE_MAX_RESOURCES, reached: false },
  };
  if (https && /html/i.test(header(page, 'content-type') ?? '')) {
    const mixed = await parserOf(ctx).run(
      { kind: 'mixed-content', html: bodyText(page, PAGE_MAX_BYTES), url: page.url },
      ctx.signal,
    );
    limits = mixed.limits;
    for (const m of mixed.found) {
      findings.push({
        id: `mixed-content:${m.url}`,
        category: 'mixed-content',
        severity: m.active ? 'high' : 'low',
        title: `${m.active ? 'Active' : 'Passive'} mixed content: <${m.element}>`,
        detail: m.url,
        fix: 'Load every resource over https.',
      });
    }
  }
  for (const name of ['server', 'x-powered-by', 'x-aspnet-version', 'x-aspnetmvc-version']) {
    const value = header(page, name);
    if (value && (name !== 'server' || /\d/.test(value))) {
      findings.push({
        id: `banner:${name}`,
        category: 'disclosure',
        severity: 'low',
        title: `${name} header discloses software`,
        detail: `${name}: ${value}`,
        fix: `Remove ${name} or strip its version.`,
      });
    }
  }
  await ctx.progress(95, 'content', { findings: findings.length });

  const { score: total, counts } = score(findings);
  return {
    url: target.toString(),
    finalUrl: page.url,
    status: page.status,
    score: total,
    counts,
    findings,
    headers,
    cookies,
    tls,
    cors: corsReport,
    methods: { allow, trace: traceStatus },
    summary: { score: total, counts },
    limits,
  };
}
