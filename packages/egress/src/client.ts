import { lookup } from 'node:dns/promises';
import { connect as netConnect, isIP } from 'node:net';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { checkServerIdentity, connect as tlsConnect } from 'node:tls';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { brotliDecompressSync, constants as zlib, gunzipSync, inflateSync } from 'node:zlib';
import { Client } from 'undici';
import type { Dispatcher, buildConnector } from 'undici';
import {
  EMPTY_ALLOWLIST,
  EgressError,
  checkTargetLiteral,
  isHostAllowlisted,
  parseTargetUrl,
  refusalOf,
} from './policy.js';
import type { Allowlist } from './policy.js';

// Every outbound request of every engine goes through this module. A connection is only ever
// opened to an address that was checked by the same call that resolved it: the connector resolves
// the host itself, refuses when ANY of its addresses is private, and dials the first address
// literally, so a second DNS answer (rebinding) never reaches the socket.

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Every address a host name resolves to (A and AAAA). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

/** The operating system's resolver (getaddrinfo: /etc/hosts, then DNS), all families. */
export const systemResolver: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => ({
    address: a.address,
    family: a.family === 6 ? 6 : 4,
  }));

export interface EgressOptions {
  /** Hosts and ranges reachable although private. @defaultValue nothing */
  allowlist?: Allowlist;
  /** Name resolution; tests inject one. @defaultValue {@link systemResolver} */
  resolver?: Resolver;
  /** Bound of DNS + TCP + TLS for one connection. @defaultValue 10_000 */
  connectTimeoutMs?: number;
  /** Certificates to trust instead of the system's roots (tests trust their own). @defaultValue system roots */
  ca?: string | Buffer | (string | Buffer)[];
}

/** The certificate a TLS server presented, as a report can show it. */
export interface CertificateInfo {
  subject: string | null;
  issuer: string | null;
  subjectAltName: string | null;
  validFrom: string;
  validTo: string;
  fingerprint256: string;
}

export interface TlsInfo {
  /** e.g. `TLSv1.3`. */
  protocol: string | null;
  cipher: string | null;
  /** Whether the chain verified and the name matched. */
  authorized: boolean;
  authorizationError: string | null;
  /** Whether the certificate names the host (judged even when the chain did not verify). */
  hostMatches: boolean;
  certificate: CertificateInfo | null;
}

/** What one connection cost and where it went. */
export interface ConnectionInfo {
  remoteAddress: string;
  remotePort: number;
  dnsMs: number;
  connectMs: number;
  tlsMs: number;
  /** Protocol agreed by ALPN (`h2`, `http/1.1`), null for plain HTTP or none offered. */
  alpnProtocol: string | null;
  tls: TlsInfo | null;
}

export interface ConnectorOptions {
  /** Verify the server certificate. @defaultValue true */
  rejectUnauthorized?: boolean;
  /** Offer HTTP/2 by ALPN (the dispatcher must allow it). @defaultValue false */
  http2?: boolean;
  /** Ends a pending connection attempt with the signal's reason. */
  signal?: AbortSignal;
  /** Called once per established connection. */
  onConnection?: (info: ConnectionInfo) => void;
}

export interface EgressRequestOptions {
  /** @defaultValue 'GET' */
  method?: Dispatcher.HttpMethod;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Aborts at once; the rejection is the signal's reason. */
  signal?: AbortSignal;
  /** Bound of the whole exchange, redirects included. @defaultValue 15_000 */
  timeoutMs?: number;
  /** Body bytes kept at most; the rest is not read and `truncated` is set. @defaultValue 5 MiB */
  maxBytes?: number;
  /** Redirects followed (each hop checked like the first); 0 returns the 3xx as is. @defaultValue 5 */
  maxRedirects?: number;
  /** @defaultValue true */
  rejectUnauthorized?: boolean;
  /** Offer HTTP/2 by ALPN. @defaultValue false */
  http2?: boolean;
}

/** Milliseconds per phase of the final hop's request on its own fresh connection. */
export interface RequestTimings {
  dns: number;
  connect: number;
  tls: number;
  /** Request sent → response headers. */
  ttfb: number;
  /** Response headers → last body byte read. */
  download: number;
  /** Start of the first hop → last body byte of the final one. */
  total: number;
}

export interface RedirectHop {
  url: string;
  status: number;
  location: string;
}

export interface EgressResponse {
  /** The URL that answered (after redirects). */
  url: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Body as received on the wire (compressed when `content-encoding` says so); see {@link decodeBody}. */
  body: Buffer;
  truncated: boolean;
  redirects: RedirectHop[];
  /** `1.1` or `2`. */
  httpVersion: string;
  connection: ConnectionInfo;
  timings: RequestTimings;
}

export const EGRESS_DEFAULT_TIMEOUT_MS = 15_000;
export const EGRESS_DEFAULT_MAX_BYTES = 5 * 1024 * 1024;
export const EGRESS_MAX_REDIRECTS = 5;

const DEFAULT_HEADERS: Record<string, string> = {
  'user-agent': 'Crucible/0.1 (+https://github.com/crucible)',
  accept: '*/*',
  'accept-encoding': 'gzip, deflate, br',
};

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function nameOf(entity: Record<string, string | string[] | undefined> | undefined): string | null {
  if (!entity) return null;
  const parts = Object.entries(entity)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`);
  return parts.length > 0 ? parts.join(', ') : null;
}

function certificateInfo(cert: PeerCertificate): CertificateInfo | null {
  if (!cert || Object.keys(cert).length === 0) return null;
  return {
    subject: nameOf(cert.subject as unknown as Record<string, string>),
    issuer: nameOf(cert.issuer as unknown as Record<string, string>),
    subjectAltName: cert.subjectaltname ?? null,
    validFrom: new Date(cert.valid_from).toISOString(),
    validTo: new Date(cert.valid_to).toISOString(),
    fingerprint256: cert.fingerprint256,
  };
}

function tlsInfo(socket: TLSSocket, host: string): TlsInfo {
  const error = socket.authorizationError as unknown;
  const peer = socket.getPeerCertificate();
  return {
    protocol: socket.getProtocol() ?? null,
    cipher: socket.getCipher()?.name ?? null,
    authorized: socket.authorized,
    authorizationError: error ? String(error) : null,
    hostMatches: Object.keys(peer).length > 0 && checkServerIdentity(host, peer) === undefined,
    certificate: certificateInfo(peer),
  };
}

/** Decompresses a body by its `content-encoding` (gzip, deflate, br), tolerating a truncated one. */
export function decodeBody(
  body: Buffer,
  contentEncoding: string | string[] | undefined,
  maxBytes: number,
): Buffer {
  const encoding = String(contentEncoding ?? '')
    .trim()
    .toLowerCase();
  const options = { finishFlush: zlib.Z_SYNC_FLUSH, maxOutputLength: maxBytes };
  try {
    if (encoding === 'gzip' || encoding === 'x-gzip') return gunzipSync(body, options);
    if (encoding === 'deflate') return inflateSync(body, options);
    if (encoding === 'br')
      return brotliDecompressSync(body, {
        finishFlush: zlib.BROTLI_OPERATION_FLUSH,
        maxOutputLength: maxBytes,
      });
  } catch {
    // Mislabelled or cut beyond repair: what arrived is still worth looking at.
  }
  return body;
}

/** The guard: resolve, check every address, pin it, re-check every redirect, cap bytes and time. */
export class Egress {
  readonly allowlist: Allowlist;
  readonly #resolver: Resolver;
  readonly #connectTimeoutMs: number;
  readonly #ca: EgressOptions['ca'];

  constructor(options: EgressOptions = {}) {
    this.allowlist = options.allowlist ?? EMPTY_ALLOWLIST;
    this.#resolver = options.resolver ?? systemResolver;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#ca = options.ca;
  }

  /** Throws TARGET_REFUSED / INVALID_TARGET for what can be refused from the URL alone. */
  checkUrl(raw: string | URL): URL {
    return checkTargetLiteral(raw, this.allowlist);
  }

  /**
   * Resolves a host and returns the address to dial, or throws TARGET_REFUSED when the host or
   * any of its addresses is private (unless allowlisted) and DNS_FAILED when it does not resolve.
   */
  async resolve(host: string): Promise<ResolvedAddress> {
    const name = host.toLowerCase().replace(/\.$/, '');
    checkTargetLiteral(`http://${isIP(name) === 6 ? `[${name}]` : name}/`, this.allowlist);
    const family = isIP(name);
    if (family !== 0) return { address: name, family: family === 6 ? 6 : 4 };
    let addresses: ResolvedAddress[];
    try {
      addresses = await this.#resolver(name);
    } catch (err) {
      throw new EgressError('DNS_FAILED', `cannot resolve ${name}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (addresses.length === 0) throw new EgressError('DNS_FAILED', `${name} has no address`);
    if (!isHostAllowlisted(name, this.allowlist)) {
      for (const { address } of addresses) {
        const refusal = refusalOf(address, this.allowlist);
        if (refusal)
          throw new EgressError('TARGET_REFUSED', `target refused: ${name} resolves to ${refusal}`);
      }
    }
    return addresses[0]!;
  }

  /** An undici connector that dials only addresses {@link resolve} accepted, timing each phase. */
  connector(options: ConnectorOptions = {}): buildConnector.connector {
    return this.#connector(options, null);
  }

  /**
   * Resolves and checks the host of `origin` once, and returns a connector that dials exactly that
   * address for every connection it opens (and refuses any other host). Load generation reconnects
   * often: each connection reaches the address that was checked, never a later DNS answer, and no
   * connection waits for DNS.
   */
  async pinnedConnector(
    origin: string | URL,
    options: ConnectorOptions = {},
  ): Promise<{ address: ResolvedAddress; connect: buildConnector.connector }> {
    const host = this.checkUrl(origin).hostname.replace(/^\[(.*)\]$/, '$1');
    const address = await this.resolve(host);
    return { address, connect: this.#connector(options, { host, address }) };
  }

  #connector(
    options: ConnectorOptions,
    pin: { host: string; address: ResolvedAddress } | null,
  ): buildConnector.connector {
    return (opts, callback) => {
      const host = opts.hostname.replace(/^\[(.*)\]$/, '$1');
      const https = opts.protocol === 'https:';
      const port = Number(opts.port) || (https ? 443 : 80);
      const { signal } = options;
      let socket: Socket | undefined;
      let settled = false;
      const settle = (err: Error | null, ready?: Socket) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (err) {
          socket?.destroy();
          callback(err, null);
        } else callback(null, ready!);
      };
      const onAbort = () => settle(signal!.reason as Error);
      const timer = setTimeout(
        () =>
          settle(
            new EgressError(
              'TIMEOUT',
              `could not connect to ${host}:${port} within ${this.#connectTimeoutMs} ms`,
            ),
          ),
        this.#connectTimeoutMs,
      );
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });

      const t0 = performance.now();
      let resolving: Promise<ResolvedAddress>;
      if (!pin) resolving = this.resolve(host);
      else if (host === pin.host) resolving = Promise.resolve(pin.address);
      else
        resolving = Promise.reject(
          new EgressError('TARGET_REFUSED', `target refused: ${host} is not the pinned host ${pin.host}`),
        );
      resolving.then(
        (pinned) => {
          if (settled) return;
          const dnsMs = isIP(host) === 0 && !pin ? performance.now() - t0 : 0;
          const tcpStart = performance.now();
          // The socket options undici's own connector sets: no Nagle delay, TCP keep-alive.
          const tcp = netConnect({
            host: pinned.address,
            port,
            family: pinned.family,
            noDelay: true,
            keepAlive: true,
            keepAliveInitialDelay: 60_000,
          });
          socket = tcp;
          tcp.once('error', (err) => settle(err));
          tcp.once('connect', () => {
            const connectMs = performance.now() - tcpStart;
            const base = {
              remoteAddress: pinned.address,
              remotePort: port,
              dnsMs: round(dnsMs),
              connectMs: round(connectMs),
            };
            if (!https) {
              options.onConnection?.({ ...base, tlsMs: 0, alpnProtocol: null, tls: null });
              return settle(null, tcp);
            }
            const tlsStart = performance.now();
            const secure = tlsConnect({
              socket: tcp,
              // The certificate must match the host the user named, not the address dialled.
              host,
              servername: isIP(host) === 0 ? host : undefined,
              ALPNProtocols: options.http2 ? ['h2', 'http/1.1'] : ['http/1.1'],
              rejectUnauthorized: options.rejectUnauthorized ?? true,
              ...(this.#ca ? { ca: this.#ca } : {}),
            });
            socket = secure;
            secure.once('error', (err) => settle(err));
            secure.once('secureConnect', () => {
              options.onConnection?.({
                ...base,
                tlsMs: round(performance.now() - tlsStart),
                alpnProtocol: secure.alpnProtocol || null,
                tls: tlsInfo(secure, host),
              });
              settle(null, secure);
            });
          });
        },
        (err: Error) => settle(err),
      );
    };
  }

  /**
   * One request on fresh connections (one per hop), following at most `maxRedirects` redirects,
   * each target checked like the first. Resolves with the final response, its body capped.
   */
  async request(raw: string | URL, options: EgressRequestOptions = {}): Promise<EgressResponse> {
    const timeoutMs = options.timeoutMs ?? EGRESS_DEFAULT_TIMEOUT_MS;
    const maxBytes = options.maxBytes ?? EGRESS_DEFAULT_MAX_BYTES;
    const maxRedirects = Math.min(options.maxRedirects ?? EGRESS_MAX_REDIRECTS, EGRESS_MAX_REDIRECTS);
    const controller = new AbortController();
    const onCallerAbort = () => controller.abort(options.signal!.reason);
    if (options.signal?.aborted) throw options.signal.reason;
    options.signal?.addEventListener('abort', onCallerAbort, { once: true });
    const timer = setTimeout(
      () =>
        controller.abort(
          new EgressError('TIMEOUT', `timed out after ${timeoutMs} ms without a complete response`),
        ),
      timeoutMs,
    );
    const signal = controller.signal;
    const t0 = performance.now();
    let url = this.checkUrl(raw);
    let method = options.method ?? 'GET';
    let body = options.body;
    let headers = { ...DEFAULT_HEADERS, ...lowerKeys(options.headers ?? {}) };
    const redirects: RedirectHop[] = [];
    try {
      for (;;) {
        const hop = await this.#hop(url, { method, headers, body, signal, maxBytes, options });
        const location = hop.headers.location;
        if (!REDIRECT_STATUSES.has(hop.status) || typeof location !== 'string' || maxRedirects === 0) {
          return {
            ...hop,
            url: url.toString(),
            redirects,
            timings: { ...hop.timings, total: round(performance.now() - t0) },
          };
        }
        if (redirects.length >= maxRedirects) {
          throw new EgressError(
            'TOO_MANY_REDIRECTS',
            `more than ${maxRedirects} redirects from ${String(raw)}`,
          );
        }
        let next: URL;
        try {
          next = new URL(location, url);
        } catch (err) {
          throw new EgressError('INVALID_TARGET', `redirect to an invalid URL: ${location}`, { cause: err });
        }
        redirects.push({ url: url.toString(), status: hop.status, location: next.toString() });
        // Each hop is a new target: parsed, checked and resolved like the first.
        next = parseTargetUrl(next);
        if (hop.status === 303 || ((hop.status === 301 || hop.status === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
        }
        if (next.origin !== url.origin) {
          const { authorization: _a, cookie: _c, ...rest } = headers;
          headers = rest;
        }
        url = next;
      }
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (err instanceof EgressError) throw err;
      // The message is the transport's own (e.g. `connect ECONNREFUSED 127.0.0.1:8080`).
      throw new EgressError('REQUEST_FAILED', (err as Error).message, { cause: err });
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onCallerAbort);
    }
  }

  async #hop(
    url: URL,
    hop: {
      method: Dispatcher.HttpMethod;
      headers: Record<string, string>;
      body: string | Buffer | undefined;
      signal: AbortSignal;
      maxBytes: number;
      options: EgressRequestOptions;
    },
  ): Promise<Omit<EgressResponse, 'url' | 'redirects'>> {
    let connection: ConnectionInfo | undefined;
    let connectedAt = 0;
    let drained = false;
    const client = new Client(url.origin, {
      pipelining: 1,
      allowH2: hop.options.http2 ?? false,
      connect: this.connector({
        rejectUnauthorized: hop.options.rejectUnauthorized,
        http2: hop.options.http2,
        signal: hop.signal,
        onConnection: (info) => {
          connection = info;
          connectedAt = performance.now();
        },
      }),
    });
    try {
      const response = await client.request({
        method: hop.method,
        path: `${url.pathname}${url.search}`,
        headers: hop.headers,
        body: hop.body,
        signal: hop.signal,
      });
      const headersAt = performance.now();
      const chunks: Buffer[] = [];
      let bytes = 0;
      let truncated = false;
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        if (bytes + chunk.length > hop.maxBytes) {
          chunks.push(chunk.subarray(0, hop.maxBytes - bytes));
          bytes = hop.maxBytes;
          truncated = true;
          break;
        }
        chunks.push(chunk);
        bytes += chunk.length;
      }
      const doneAt = performance.now();
      drained = !truncated;
      const conn = connection!;
      return {
        status: response.statusCode,
        headers: response.headers,
        body: Buffer.concat(chunks),
        truncated,
        httpVersion: conn.alpnProtocol === 'h2' ? '2' : '1.1',
        connection: conn,
        timings: {
          dns: conn.dnsMs,
          connect: conn.connectMs,
          tls: conn.tlsMs,
          ttfb: round(headersAt - connectedAt),
          download: round(doneAt - headersAt),
          total: 0,
        },
      };
    } finally {
      // A response read to its end: a plain close (destroying builds an error, stack and all, per
      // request). Anything else — a truncated body, an abort, a failure — is cut off at once.
      await (drained ? client.close() : client.destroy()).catch(() => {});
    }
  }
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}
