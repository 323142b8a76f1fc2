import { lookup } from 'node:dns/promises';
import { connect as netConnect, isIP } from 'node:net';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connect as tlsConnect } from 'node:tls';
import { Client } from 'undici';
import type { buildConnector } from 'undici';
import { roundMs } from './stats.js';

// Every outbound request of the engines goes through this module, so that the egress guard
// (resolve, check every address, pin it, re-check redirects) can replace `timedGet` in one place.

export interface TimedRequestOptions {
  /** Aborts the request at once; the rejection is the signal's reason. */
  signal: AbortSignal;
  /** Bound of the whole request, DNS to last body byte. */
  timeoutMs: number;
  /** Body bytes read at most; the rest is discarded and `truncated` set. */
  maxBytes: number;
  /** Verify the server certificate. @defaultValue true */
  rejectUnauthorized?: boolean;
}

/** Milliseconds spent in each phase of one request on a fresh connection. */
export interface RequestTimings {
  dns: number;
  connect: number;
  tls: number;
  /** Request written → response headers received. */
  ttfb: number;
  /** Response headers → last body byte. */
  download: number;
  total: number;
}

export interface TimedResponse {
  status: number;
  /** Body bytes as sent on the wire (still compressed when `contentEncoding` is set). */
  bytes: number;
  truncated: boolean;
  contentEncoding: string | null;
  contentType: string | null;
  httpVersion: string;
  remoteAddress: string;
  timings: RequestTimings;
}

export type TimedGet = (url: URL, options: TimedRequestOptions) => Promise<TimedResponse>;

/** A request failure the caller can report (timeout, refused, reset, DNS). */
export class HttpRequestError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'HttpRequestError';
    this.code = code;
  }
}

const REQUEST_HEADERS = {
  'user-agent': 'Crucible/0.1 (+performance test)',
  accept: '*/*',
  'accept-encoding': 'gzip, deflate, br',
};

function headerValue(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

function rejectOnAbort(signal: AbortSignal): { promise: Promise<never>; dispose(): void } {
  let onAbort = () => {};
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  // The race loser must not surface as an unhandled rejection.
  promise.catch(() => {});
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
}

/**
 * One timed GET on a connection of its own (so every request pays DNS, connect and TLS, like a
 * first visit), closed afterwards. The address is resolved once and pinned for the connection.
 */
export const timedGet: TimedGet = async (url, options) => {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new HttpRequestError('UNSUPPORTED_PROTOCOL', `unsupported protocol ${url.protocol}`);
  }
  const https = url.protocol === 'https:';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(url.port) || (https ? 443 : 80);

  const controller = new AbortController();
  const onCallerAbort = () => controller.abort(options.signal.reason);
  if (options.signal.aborted) throw options.signal.reason;
  options.signal.addEventListener('abort', onCallerAbort, { once: true });
  const timer = setTimeout(
    () =>
      controller.abort(
        new HttpRequestError('TIMEOUT', `no complete response within ${options.timeoutMs} ms`),
      ),
    options.timeoutMs,
  );
  const signal = controller.signal;
  const aborted = rejectOnAbort(signal);

  const t0 = performance.now();
  let dnsMs = 0;
  let connectMs = 0;
  let tlsMs = 0;
  let connectedAt = t0;
  let remoteAddress = host;
  let client: Client | undefined;
  try {
    if (isIP(host) === 0) {
      try {
        // dns.lookup cannot be cancelled: the race lets an abort win while it is pending.
        const resolved = await Promise.race([lookup(host), aborted.promise]);
        remoteAddress = resolved.address;
      } catch (err) {
        if (signal.aborted) throw err;
        throw new HttpRequestError('DNS_FAILED', `cannot resolve ${host}: ${(err as Error).message}`, {
          cause: err,
        });
      }
      dnsMs = performance.now() - t0;
    }

    const connect: buildConnector.connector = (_opts, callback) => {
      let settled = false;
      const settle = (err: Error | null, socket: Socket | null) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (err) {
          socket?.destroy();
          callback(err, null);
        } else callback(null, socket!);
      };
      const tcpStart = performance.now();
      const socket = netConnect({ host: remoteAddress, port });
      const onAbort = () => settle(signal.reason as Error, socket);
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('error', (err) => settle(err, socket));
      socket.once('connect', () => {
        connectMs = performance.now() - tcpStart;
        if (!https) {
          connectedAt = performance.now();
          settle(null, socket);
          return;
        }
        const tlsStart = performance.now();
        const secure = tlsConnect({
          socket,
          servername: isIP(host) === 0 ? host : undefined,
          ALPNProtocols: ['http/1.1'],
          rejectUnauthorized: options.rejectUnauthorized ?? true,
        });
        secure.once('error', (err) => settle(err, secure));
        secure.once('secureConnect', () => {
          tlsMs = performance.now() - tlsStart;
          connectedAt = performance.now();
          settle(null, secure);
        });
      });
    };

    client = new Client(url.origin, { connect, pipelining: 1 });
    const response = await client.request({
      method: 'GET',
      path: `${url.pathname}${url.search}`,
      headers: REQUEST_HEADERS,
      signal,
    });
    const headersAt = performance.now();
    let bytes = 0;
    let truncated = false;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      if (bytes + chunk.length > options.maxBytes) {
        bytes = options.maxBytes;
        truncated = true;
        break;
      }
      bytes += chunk.length;
    }
    const doneAt = performance.now();
    return {
      status: response.statusCode,
      bytes,
      truncated,
      contentEncoding: headerValue(response.headers['content-encoding']),
      contentType: headerValue(response.headers['content-type']),
      httpVersion: '1.1',
      remoteAddress,
      timings: {
        dns: roundMs(dnsMs),
        connect: roundMs(connectMs),
        tls: roundMs(tlsMs),
        ttfb: roundMs(headersAt - connectedAt),
        download: roundMs(doneAt - headersAt),
        total: roundMs(doneAt - t0),
      },
    };
  } catch (err) {
    // undici reports an abort in its own words; the caller wants the reason it aborted with.
    if (signal.aborted) throw signal.reason;
    if (err instanceof HttpRequestError) throw err;
    const code = (err as { code?: unknown }).code;
    throw new HttpRequestError(typeof code === 'string' ? code : 'REQUEST_FAILED', (err as Error).message, {
      cause: err,
    });
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener('abort', onCallerAbort);
    aborted.dispose();
    await client?.destroy().catch(() => {});
  }
};
