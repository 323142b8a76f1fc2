import type { SecurityConfig, SecurityFinding, SecurityResult } from '@crucible/contracts';
import type { Egress, EgressResponse } from '@crucible/egress';
import { EngineError, abortReason, errorMessage, throwIfRefused } from '../errors.js';
import type { MixedContent } from '../parsing/mixed-content.js';
import type { EngineContext } from './engine.js';
import { bodyText, checkedTarget, egressOf, parserOf } from './support.js';
import { cookieFindings, responseCookies } from './security/cookies.js';
import {
  bannerFindings,
  hasMixedContentToFind,
  mixedContentFindings,
  transportFindings,
  unsearched,
} from './security/content.js';
import { headerFindings, securityHeaders } from './security/headers.js';
import {
  CORS_PROBE_ORIGIN,
  allowedMethods,
  corsFindings,
  corsReport,
  methodFindings,
  traceFindings,
  traceStatus,
} from './security/probes.js';
import type { ProbeAnswer } from './security/probes.js';
import { securityResult } from './security/result.js';
import { tlsFindings, tlsReport } from './security/tls.js';

export { CORS_PROBE_ORIGIN } from './security/probes.js';

const PAGE_MAX_BYTES = 5 * 1024 * 1024;
const REQUEST_TIMEOUT_MS = 15_000;

type Probe = (options: Parameters<Egress['request']>[1]) => Promise<ProbeAnswer>;

/**
 * Requests `target` with the run's signal and timeout. A failed request is an answer (a finding at
 * most), except a refused target or the run's own abort, which end the run.
 */
function prober(egress: Egress, target: URL, ctx: EngineContext): Probe {
  return async (options) => {
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
}

/** The page itself: without it there is nothing to judge, so failing to fetch it is worth a retry. */
async function fetchPage(probe: Probe, target: URL): Promise<EgressResponse> {
  const page = await probe({ maxBytes: PAGE_MAX_BYTES });
  if (page instanceof Error) {
    throw new EngineError(
      'TARGET_UNREACHABLE',
      `could not fetch ${target.toString()}: ${errorMessage(page)}`,
      { cause: page, retryable: true },
    );
  }
  return page;
}

/** The page's plain-HTTP resources, searched off the event loop; an unsearched page finds none. */
async function findMixedContent(
  page: EgressResponse,
  https: boolean,
  ctx: EngineContext,
): Promise<MixedContent> {
  if (!hasMixedContentToFind(page, https)) return unsearched();
  return parserOf(ctx).run(
    { kind: 'mixed-content', html: bodyText(page, PAGE_MAX_BYTES), url: page.url },
    ctx.signal,
  );
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
  const probe = prober(egress, target, ctx);

  const page = await fetchPage(probe, target);
  const finalUrl = new URL(page.url);
  const https = finalUrl.protocol === 'https:';
  const findings: SecurityFinding[] = [...transportFindings(page.url, https)];
  const headers = securityHeaders(page);
  findings.push(...headerFindings(headers, https));
  await ctx.progress(25, 'headers', { findings: findings.length });

  const cookies = responseCookies(page);
  findings.push(...cookieFindings(cookies, https));
  const tls = https && page.connection.tls ? tlsReport(page.connection.tls) : null;
  if (tls)
    findings.push(...tlsFindings(tls, tls.expiresInDays, finalUrl.hostname.replace(/^\[(.*)\]$/, '$1')));
  await ctx.progress(45, 'tls', { findings: findings.length });

  const cors = corsReport(await probe({ headers: { origin: CORS_PROBE_ORIGIN }, maxBytes: 0 }));
  findings.push(...corsFindings(cors));
  await ctx.progress(60, 'cors', {});

  const allow = allowedMethods(await probe({ method: 'OPTIONS', maxBytes: 0, maxRedirects: 0 }));
  findings.push(...methodFindings(allow));
  const trace = await probe({ method: 'TRACE', maxBytes: 4096, maxRedirects: 0 });
  findings.push(...traceFindings(trace));
  await ctx.progress(75, 'methods', {});

  const mixed = await findMixedContent(page, https, ctx);
  findings.push(...mixedContentFindings(mixed.found), ...bannerFindings(page));
  await ctx.progress(95, 'content', { findings: findings.length });

  return securityResult({
    url: target.toString(),
    finalUrl: page.url,
    status: page.status,
    findings,
    headers,
    cookies,
    tls,
    cors,
    methods: { allow, trace: traceStatus(trace) },
    limits: mixed.limits,
  });
}
