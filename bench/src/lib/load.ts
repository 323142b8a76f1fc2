import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  durationSec: number;
  /** Replaces `[<id>]` in headers and body with a fresh id per request (e.g. an Idempotency-Key). */
  idReplacement?: boolean;
}

export interface LoadResult {
  /** Mean of autocannon's per-second request counts. */
  rps: number;
  /** Latency percentiles in milliseconds, from autocannon's HDR histogram. */
  p50: number;
  p99: number;
  requests: number;
}

/**
 * One autocannon run. A run with any connection error or non-2xx answer throws instead of
 * returning a figure: requests/s of failures would flatter whatever failed.
 */
export async function load(options: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: options.url,
    method: options.method ?? 'GET',
    headers: options.headers,
    body: options.body,
    connections: options.connections,
    duration: options.durationSec,
    idReplacement: options.idReplacement ?? false,
  });
  if (result.errors > 0 || result.non2xx > 0) {
    throw new Error(
      `load on ${options.url}: ${result.errors} errors, ${result.non2xx} non-2xx ` +
        `(${JSON.stringify(result.statusCodeStats ?? {})}) of ${result.requests.total}`,
    );
  }
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
  };
}
