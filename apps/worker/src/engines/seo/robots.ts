import type { SeoCheck } from '@crucible/contracts';
import type { SideFile } from './side-file.js';

/** Whether robots.txt tells every crawler (`User-agent: *`) to stay away from the whole site. */
export function disallowsAll(robotsTxt: string): boolean {
  let agents: string[] = [];
  let inRules = false;
  for (const raw of robotsTxt.split(/\r?\n/)) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^([a-z-]+)\s*:\s*(.*)$/i.exec(line);
    if (!m) continue;
    const [key, value] = [m[1]!.toLowerCase(), m[2]!.trim()];
    if (key === 'user-agent') {
      // A user-agent line after rules starts a new group.
      if (inRules) agents = [];
      inRules = false;
      agents.push(value);
    } else {
      inRules = true;
      if (key === 'disallow' && value === '/' && agents.includes('*')) return true;
    }
  }
  return false;
}

/** The robots.txt verdict, and the sitemaps it names (none when it did not answer). */
export function robotsCheck(robots: SideFile | null): { check: SeoCheck; sitemaps: string[] } {
  if (robots === null || robots.text === null)
    return {
      check: {
        id: 'robots-txt',
        group: 'technical',
        status: 'warn',
        message: robots ? `robots.txt answered ${robots.status}` : 'robots.txt could not be fetched',
        recommendation: 'Serve a /robots.txt (it may be as short as "User-agent: *" and a Sitemap line).',
      },
      sitemaps: [],
    };
  const sitemaps = Array.from(robots.text.matchAll(/^\s*sitemap\s*:\s*(\S+)/gim), (m) => m[1]!);
  if (disallowsAll(robots.text))
    return {
      check: {
        id: 'robots-txt',
        group: 'technical',
        status: 'warn',
        message: 'robots.txt disallows the whole site to every crawler',
        recommendation:
          'Remove "Disallow: /" under "User-agent: *" unless the site must stay out of search engines.',
      },
      sitemaps,
    };
  return {
    check: {
      id: 'robots-txt',
      group: 'technical',
      status: 'pass',
      message: 'robots.txt present',
      value: { sitemaps },
    },
    sitemaps,
  };
}
