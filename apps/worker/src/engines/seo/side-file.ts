import type { Egress, EgressResponse } from '@crucible/egress';
import { abortReason, throwIfRefused } from '../../errors.js';
import type { EngineContext } from '../engine.js';
import { bodyText } from '../support.js';

const SIDE_FILE_MAX_BYTES = 1024 * 1024;
const REQUEST_TIMEOUT_MS = 15_000;

/** A file beside the page (robots.txt, a sitemap): its status, and its text when that is below 400. */
export interface SideFile {
  status: number;
  text: string | null;
}

/**
 * Fetches a side file; null when it could not be fetched (a finding, not a failure), but a refused
 * target or the run's own abort end the run.
 */
export async function fetchSideFile(egress: Egress, url: URL, ctx: EngineContext): Promise<SideFile | null> {
  let res: EgressResponse;
  try {
    res = await egress.request(url, {
      signal: ctx.signal,
      timeoutMs: REQUEST_TIMEOUT_MS,
      maxBytes: SIDE_FILE_MAX_BYTES,
    });
  } catch (err) {
    if (ctx.signal.aborted) throw abortReason(ctx.signal);
    throwIfRefused(err);
    return null;
  }
  return { status: res.status, text: res.status < 400 ? bodyText(res, SIDE_FILE_MAX_BYTES) : null };
}
