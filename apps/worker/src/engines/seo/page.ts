import type { SeoCheck } from '@crucible/contracts';

/** A page that answers an error status is dropped by search engines, whatever its HTML says. */
export function statusCheck(status: number): SeoCheck | null {
  if (status < 400) return null;
  return {
    id: 'status',
    group: 'technical',
    status: 'fail',
    message: `the page answered ${status}`,
    value: status,
    recommendation: 'Serve the page with a 200 status; search engines drop pages that answer 4xx/5xx.',
  };
}

/** The X-Robots-Tag header can keep a page out of the index as the robots meta tag does. */
export function xRobotsCheck(xRobots: string | null): SeoCheck | null {
  if (!xRobots?.toLowerCase().includes('noindex')) return null;
  return {
    id: 'x-robots-tag',
    group: 'technical',
    status: 'warn',
    message: 'the X-Robots-Tag header says noindex',
    value: xRobots,
    recommendation: 'Remove noindex from X-Robots-Tag if this page should be found.',
  };
}
