import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  /** How long to run; or `amount` requests instead. */
  durationSec?: number;
  /** Exactly this many requests, then stop (e.g. to build a backlog). */
  amount?: number;
  /** Replaces `[<id>]` in headers and body with a fresh id per request (e.g. an Idempotency-Key). */
  idReplacement?: boolean;
}

export interface LoadResult {
  /** Requests answered ÷ the run's length (from autocannon's start and finish times). */
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
    ...(options.amount ? { amount: options.amount } : { duration: options.durationSec }),
    idReplacement: options.idReplacement ?? false,
  });
  if (result.errors > 0 || result.non2xx > 0) {
    throw new Error(
      `load on ${options.url}: ${result.errors} errors, ${result.non2xx} non-2xx ` +
        `(${JSON.stringify(result.statusCodeStats ?? {})}) of ${result.requests.total}`,
    );
  }
  return {
    rps: result.requests.total / ((result.finish.getTime() - result.start.getTime()) / 1000),
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
  };
}
