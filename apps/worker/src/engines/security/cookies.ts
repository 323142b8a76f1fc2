import type { SecurityFinding } from '@crucible/contracts';
import type { EgressResponse } from '@crucible/egress';

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

/** Every cookie a response sets, in the order of its Set-Cookie lines. */
export function responseCookies(res: Pick<EgressResponse, 'headers'>): ParsedCookie[] {
  const setCookie = res.headers['set-cookie'];
  return (Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []).map(parseSetCookie);
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
