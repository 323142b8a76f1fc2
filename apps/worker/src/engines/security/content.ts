import type { SecurityFinding } from '@crucible/contracts';
import type { EgressResponse } from '@crucible/egress';
import { PAGE_MAX_ELEMENTS } from '../../parsing/html.js';
import type { MixedContent } from '../../parsing/mixed-content.js';
import { PAGE_MAX_RESOURCES } from '../../parsing/page-resources.js';
import { header } from '../support.js';

/** A page served over plain HTTP, which is the first thing an attacker on the path exploits. */
export function transportFindings(pageUrl: string, https: boolean): SecurityFinding[] {
  if (https) return [];
  return [
    {
      id: 'no-https',
      category: 'transport',
      severity: 'high',
      title: 'Served over plain HTTP',
      detail: `${pageUrl} is not encrypted and does not redirect to https`,
      fix: 'Serve the site over HTTPS and redirect every http:// request to it.',
    },
  ];
}

/** Whether the page is searched for mixed content: only an https HTML page can have any. */
export function hasMixedContentToFind(page: Pick<EgressResponse, 'headers'>, https: boolean): boolean {
  return https && /html/i.test(header(page, 'content-type') ?? '');
}

/** What a page that was not searched reports: nothing found, no cap reached. */
export function unsearched(): MixedContent {
  return {
    found: [],
    limits: {
      elements: { max: PAGE_MAX_ELEMENTS, reached: false },
      resources: { max: PAGE_MAX_RESOURCES, reached: false },
    },
  };
}

export function mixedContentFindings(found: MixedContent['found']): SecurityFinding[] {
  return found.map((m): SecurityFinding => ({
    id: `mixed-content:${m.url}`,
    category: 'mixed-content',
    severity: m.active ? 'high' : 'low',
    title: `${m.active ? 'Active' : 'Passive'} mixed content: <${m.element}>`,
    detail: m.url,
    fix: 'Load every resource over https.',
  }));
}

const BANNERS = ['server', 'x-powered-by', 'x-aspnet-version', 'x-aspnetmvc-version'];

/** Headers that name the software, and for `server` its version (a bare name tells little). */
export function bannerFindings(page: Pick<EgressResponse, 'headers'>): SecurityFinding[] {
  const findings: SecurityFinding[] = [];
  for (const name of BANNERS) {
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
  return findings;
}
