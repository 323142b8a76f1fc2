import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

// What the egress guard lets through, decided without any I/O: is this URL well formed, is this
// port one a web test may use, is this address public (or opened by the allowlist)?

export type EgressErrorCode =
  /** Not an absolute http(s) URL, credentials in it, or a port outside the allowed ones. */
  | 'INVALID_TARGET'
  /** The host is, or resolves to, an address the guard refuses. Never worth a retry. */
  | 'TARGET_REFUSED'
  | 'DNS_FAILED'
  | 'TOO_MANY_REDIRECTS'
  | 'TIMEOUT'
  | 'REQUEST_FAILED';

/** A refusal or failure of the egress guard, with a stable `code`. */
export class EgressError extends Error {
  readonly code: EgressErrorCode;
  constructor(code: EgressErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'EgressError';
    this.code = code;
  }
}

type Parsed = ipaddr.IPv4 | ipaddr.IPv6;

/** IPv6 outside 2000::/3 (global unicast) has no business being a web target (IPv4-compatible ::a.b.c.d included). */
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3') as [ipaddr.IPv6, number];

/**
 * Ports that browsers refuse to fetch from (the Fetch standard's "bad port" list): mail, shell,
 * DNS, NFS, IRC… A web test has no reason to talk to them and an attacker every reason.
 */
export const BAD_PORTS: ReadonlySet<number> = new Set([
  0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104,
  109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515,
  526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049,
  3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

/** Host names that only ever mean a cloud provider's instance metadata service. */
const METADATA_HOSTS = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
]);

/**
 * The range an address belongs to, as ipaddr.js names it ('unicast' is a public address). IPv4
 * mapped into IPv6 is judged as the IPv4 it carries; IPv6 outside 2000::/3 is 'nonGlobal'.
 */
export function addressRange(address: string): string {
  const parsed = parseAddress(address);
  if (parsed === null) throw new EgressError('INVALID_TARGET', `not an IP address: ${address}`);
  return rangeOf(parsed);
}

function rangeOf(parsed: Parsed): string {
  if (parsed.kind() === 'ipv4') return parsed.range();
  const v6 = parsed as ipaddr.IPv6;
  const range = v6.range();
  if (range !== 'unicast') return range;
  return v6.match(GLOBAL_UNICAST_V6) ? 'unicast' : 'nonGlobal';
}

/** Strict: only the textual forms `net.isIP` accepts (what a resolver or a normalised URL gives). */
function parseAddress(address: string): Parsed | null {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (isIP(bare) === 0) return null;
  const parsed = ipaddr.parse(bare);
  return parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()
    ? (parsed as ipaddr.IPv6).toIPv4Address()
    : parsed;
}

/** Hosts and address ranges an operator opened although they are private (`TARGET_ALLOWLIST`). */
export interface Allowlist {
  hosts: ReadonlySet<string>;
  cidrs: readonly [Parsed, number][];
}

export const EMPTY_ALLOWLIST: Allowlist = { hosts: new Set(), cidrs: [] };

/**
 * Parses `TARGET_ALLOWLIST`: comma-separated host names (exact, case-insensitive), IP addresses
 * and CIDRs, e.g. `127.0.0.0/8,::1,localhost`. Throws on an entry that is none of these.
 */
export function parseAllowlist(raw: string | undefined): Allowlist {
  const hosts = new Set<string>();
  const cidrs: [Parsed, number][] = [];
  for (const entry of (raw ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)) {
    if (entry.includes('/')) {
      try {
        cidrs.push(ipaddr.parseCIDR(entry));
      } catch {
        throw new Error(`"${entry}" is not a valid CIDR`);
      }
    } else if (isIP(entry) !== 0) {
      const parsed = ipaddr.parse(entry);
      cidrs.push([parsed, parsed.kind() === 'ipv4' ? 32 : 128]);
    } else if (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(entry)) {
      hosts.add(entry);
    } else {
      throw new Error(`"${entry}" is neither a host name, an IP address nor a CIDR`);
    }
  }
  return { hosts, cidrs };
}

function inAllowlist(parsed: Parsed, allowlist: Allowlist): boolean {
  return allowlist.cidrs.some(
    ([net, bits]) => net.kind() === parsed.kind() && parsed.match(net as never, bits),
  );
}

/** Why an address is refused, or null when it may be reached (public, or opened by the allowlist). */
export function refusalOf(address: string, allowlist: Allowlist = EMPTY_ALLOWLIST): string | null {
  const parsed = parseAddress(address);
  if (parsed === null) return `${address} is not an IP address`;
  // Checked before the range: an operator may open a private range, never a malformed address.
  if (inAllowlist(parsed, allowlist)) return null;
  const range = rangeOf(parsed);
  return range === 'unicast' ? null : `${parsed.toString()} is a ${range} address`;
}

export function isHostAllowlisted(hostname: string, allowlist: Allowlist): boolean {
  return allowlist.hosts.has(hostname.toLowerCase().replace(/\.$/, ''));
}

/**
 * Parses a target strictly: absolute http(s), no credentials, a port outside {@link BAD_PORTS}.
 * The WHATWG parser normalises every IPv4 spelling (decimal, octal, hex, short forms) to
 * dotted-quad, so what is checked afterwards is what will be dialled.
 */
export function parseTargetUrl(raw: string | URL): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (err) {
    throw new EgressError('INVALID_TARGET', `not an absolute URL: ${String(raw)}`, { cause: err });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new EgressError('INVALID_TARGET', `only http and https URLs can be tested, not ${url.protocol}`);
  }
  if (url.username || url.password) {
    throw new EgressError('INVALID_TARGET', 'a target URL must not contain credentials');
  }
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  if (BAD_PORTS.has(port)) {
    throw new EgressError('INVALID_TARGET', `port ${port} is not a web port and cannot be tested`);
  }
  return url;
}

/** The host of a URL as a resolver or `net.connect` wants it (IPv6 without brackets). */
export function bareHost(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * What can be decided from the URL alone, with no DNS: strict parse, then refuse a literal IP
 * outside the public ranges and names that only mean loopback or cloud metadata. The API runs it
 * at submission; the worker's guard runs it again and then checks every resolved address.
 */
export function checkTargetLiteral(raw: string | URL, allowlist: Allowlist = EMPTY_ALLOWLIST): URL {
  const url = parseTargetUrl(raw);
  const host = bareHost(url).toLowerCase().replace(/\.$/, '');
  if (isHostAllowlisted(host, allowlist)) return url;
  if (isIP(host) !== 0) {
    const refusal = refusalOf(host, allowlist);
    if (refusal) throw new EgressError('TARGET_REFUSED', `target refused: ${refusal}`);
    return url;
  }
  if (host === 'localhost' || host.endsWith('.localhost') || METADATA_HOSTS.has(host)) {
    throw new EgressError('TARGET_REFUSED', `target refused: ${host} is a local or metadata host name`);
  }
  return url;
}
