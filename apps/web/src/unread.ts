import { coalesce } from './lib/notifications';
import { createStore } from './lib/store';
import { api, session } from './session';

/** The signed-in user's unread in-app notifications (the bell's count); null until first asked. */
export const unread = createStore<number | null>(null);

/** Asks the API for the count (`GET /api/notifications` answers `unread` with any page). */
async function load(): Promise<void> {
  if (!session.get()) return unread.set(null);
  try {
    const page = await api.call('listNotifications', { query: { unread: true, limit: 1 } });
    unread.set(page.unread);
  } catch {
    // Keep what is shown: the next notification or page visit asks again.
  }
}

const refresh = coalesce(load, 250);

/**
 * Recounts soon, once for a burst: after a `user:notification` (the gateway replays the channel's
 * history on each subscription, so counting messages here would count old ones again) and after
 * this browser marked some read.
 */
export function refreshUnread(): void {
  refresh.trigger();
}

/**
 * Bumped for each `user:notification` the bell receives (and when the channel's history was lost):
 * pages that list notifications follow it instead of subscribing themselves, because a socket
 * holds one subscription per channel.
 */
export const arrivals = createStore(0);

/** The bell's channel delivered a notification, or lost some: recount, and tell the pages. */
export function notificationArrived(): void {
  arrivals.set(arrivals.get() + 1);
  refresh.trigger();
}

/** Sets the count an answer gave (marking read answers it), with no request. */
export function setUnread(count: number): void {
  unread.set(count);
}

session.subscribe((s) => {
  refresh.cancel();
  unread.set(null);
  if (s) refresh.trigger();
});
if (session.get()) refresh.trigger();
