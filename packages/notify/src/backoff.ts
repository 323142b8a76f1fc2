/** When a failed delivery is tried again (DESIGN.md, "Alerts and notifications"). */
export interface BackoffOptions {
  /** The first retry's delay, before jitter. @defaultValue 5_000 */
  baseMs: number;
  /** The longest delay between two attempts. @defaultValue 3_600_000 (1 h) */
  maxMs: number;
}

/** The longest `Retry-After` taken as is. */
const RETRY_AFTER_MAX_MS = 86_400_000;

export const BACKOFF_DEFAULTS: BackoffOptions = { baseMs: 5_000, maxMs: 3_600_000 };

/**
 * Exponential backoff with jitter: after attempt n, `base × 2^(n−1)` capped at `max`, of which a
 * random half is taken off, so receivers coming back from an outage are not hit by every sender at
 * once. A `Retry-After` the receiver asked for is honoured as given, up to a day (past the
 * delivery's retry time it simply fails).
 */
export function retryDelayMs(
  attempt: number,
  retryAfterMs: number | undefined,
  options: BackoffOptions = BACKOFF_DEFAULTS,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, RETRY_AFTER_MAX_MS);
  const full = Math.min(options.baseMs * 2 ** Math.max(0, attempt - 1), options.maxMs);
  return Math.round(full / 2 + (random() * full) / 2);
}

/** `Retry-After` in milliseconds: delay-seconds or an HTTP date; undefined if absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.trim() === '') return undefined;
  if (/^\d+$/.test(raw.trim())) return Number(raw.trim()) * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
