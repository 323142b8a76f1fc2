/**
 * What a public share link of a test shows (DESIGN.md, "Sharing"): the test's config and result
 * with every secret they may hold taken out. Browser-safe and pure: the api redacts the shared
 * page with it and the gateway the shared live channel's messages.
 */

/** What a redacted value is replaced with. */
export const REDACTED = '[redacted]';

/**
 * Keys whose values are secrets wherever they appear: header and body values, credentials,
 * captured variables (an API test captures tokens from login responses).
 */
const SECRET_KEYS =
  /^(headers?|body|bodies|payload|cookies?|captured|captures|vars|variables|auth.*|.*token.*|.*secret.*|.*password.*|.*passwd.*|.*api[-_]?key.*|.*credential.*|.*session.*|authorization)$/i;

/** Keys whose whole value goes, keys and all: a request body says nothing safe. */
const WHOLE_KEYS = /^(body|bodies|payload)$/i;

/** A URL inside any string: its query and fragment may carry tokens (`?access_token=…`). */
const URL_QUERY = /\b([a-z][a-z0-9+.-]*:\/\/[^\s?#"'<>]*)([?#][^\s"'<>]*)/gi;
/** Credentials in a URL's authority (`https://user:pass@host`). */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@"'<>]+@/gi;

/** A string with the query, fragment and credentials of every URL in it redacted. */
export function redactUrls(text: string): string {
  return text
    .replace(URL_USERINFO, '$1')
    .replace(URL_QUERY, (_, base: string, rest: string) => `${base}${rest[0]}${REDACTED}`);
}

/**
 * A redacted deep copy: the value of every secret-named key (at any depth) replaced, headers
 * keeping their names; every URL in every string without its query, fragment and credentials.
 * Depth-bounded: what is deeper than `maxDepth` is dropped.
 */
export function redactShared(value: unknown, maxDepth = 32): unknown {
  if (typeof value === 'string') return redactUrls(value);
  if (value === null || typeof value !== 'object') return value;
  if (maxDepth <= 0) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redactShared(v, maxDepth - 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (WHOLE_KEYS.test(key)) out[key] = v === null || v === undefined ? v : REDACTED;
    else if (SECRET_KEYS.test(key)) out[key] = redactSecret(v);
    else out[key] = redactShared(v, maxDepth - 1);
  }
  return out;
}

/** A secret's shape kept (an object's keys, e.g. header names), its values not. */
function redactSecret(value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (Array.isArray(value)) return value.map(() => REDACTED);
  if (typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).map((k) => [k, REDACTED]));
  }
  return REDACTED;
}

/**
 * The fields of a live message a shared channel passes on: status and numbers. Ids (the test's,
 * a job's, a user's, a workspace's), URLs, stages and errors stay behind; the page reloads the
 * redacted result over HTTP when the test ends.
 */
const LIVE_FIELDS = new Set(['status', 'progress', 'verdict', 'testType', 'attempt', 'willRetry']);

/** The data of a live message as a shared channel carries it. */
export function sharedLiveData(data: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return out;
  for (const [key, v] of Object.entries(data)) {
    if (LIVE_FIELDS.has(key) && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) {
      out[key] = v;
    } else if (typeof v === 'number' && Number.isFinite(v) && !/id$/i.test(key)) {
      // A stress test's live figures (rps, latencies, errors, connections).
      out[key] = v;
    } else if (key === 'latency' && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      out[key] = Object.fromEntries(Object.entries(v).filter(([, n]) => typeof n === 'number'));
    }
  }
  return out;
}

/** The public share id: 24 random bytes, base64url (192 bits; a channel parameter as it is). */
export const SHARE_ID_PATTERN = /^[A-Za-z0-9_-]{32}$/;

/**
 * The bus topic on which the api says a share was revoked (payload: the share's hash): every
 * gateway drops the share's live channel from its sockets at once.
 */
export const SHARE_REVOKED_TOPIC = 'control:share-revoked';
