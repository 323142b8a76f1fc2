import type { SeoCheck, SeoLinkReport } from '@crucible/contracts';
import type { Egress } from '@crucible/egress';
import { abortReason, errorMessage } from '../../errors.js';
import type { EngineContext } from '../engine.js';

const LINK_TIMEOUT_MS = 10_000;
const LINK_CONCURRENCY = 4;

export type BrokenLinks = SeoLinkReport['broken'];

/** The links among `urls` that answer 4xx/5xx or not at all, in the order of `urls`. */
export async function checkLinks(urls: string[], egress: Egress, ctx: EngineContext): Promise<BrokenLinks> {
  const broken: BrokenLinks = [];
  const queue = [...urls];
  const worker = async () => {
    for (let url = queue.shift(); url; url = queue.shift()) {
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      try {
        let res = await egress.request(url, {
          method: 'HEAD',
          signal: ctx.signal,
          timeoutMs: LINK_TIMEOUT_MS,
          maxBytes: 0,
        });
        // Some servers refuse HEAD; what a visitor gets is the GET.
        if (res.status === 405 || res.status === 501) {
          res = await egress.request(url, { signal: ctx.signal, timeoutMs: LINK_TIMEOUT_MS, maxBytes: 1 });
        }
        if (res.status >= 400) broken.push({ url, status: res.status });
      } catch (err) {
        if (ctx.signal.aborted) throw abortReason(ctx.signal);
        broken.push({ url, status: null, error: errorMessage(err) });
      }
    }
  };
  await Promise.all(Array.from({ length: LINK_CONCURRENCY }, worker));
  return broken.sort((a, b) => urls.indexOf(a.url) - urls.indexOf(b.url));
}

/** The verdict on the `checked` first of a page's `total` links. */
export function brokenLinksCheck(broken: BrokenLinks, checked: number, total: number): SeoCheck {
  if (broken.length > 0)
    return {
      id: 'broken-links',
      group: 'links',
      status: 'fail',
      message: `${broken.length} of ${checked} checked links are broken`,
      value: broken,
      recommendation: 'Fix or remove links that answer 4xx/5xx or do not answer at all.',
    };
  return {
    id: 'broken-links',
    group: 'links',
    status: 'pass',
    message: `${checked} of ${total} links checked, none broken`,
  };
}
