import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '@crucible/client';
import type { UserNotificationData } from '@crucible/contracts';
import { Pager } from '../components/pager';
import { useStore } from '../lib/store';
import { api } from '../session';
import { arrivals, refreshUnread, setUnread, unread } from '../unread';

type Notification = UserNotificationData;
const message = (err: unknown) => (err instanceof ApiError ? err.message : String(err));

/**
 * The notification centre: the caller's in-app notifications, newest first, a page per cursor,
 * all or unread only; each marked read on its own or all at once. New ones show live.
 */
export function NotificationsPage() {
  const count = useStore(unread);
  // The filter and page live here, not in the URL: the centre is one view, not a place to link to.
  const [view, setView] = useState<{ onlyUnread: boolean; cursor?: string }>({ onlyUnread: false });
  const { onlyUnread, cursor } = view;
  const [page, setPage] = useState<{ items: Notification[]; nextCursor: string | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const visited = useRef<string[]>([]);
  const generation = useRef(0);

  const load = useCallback(async () => {
    const asked = ++generation.current;
    try {
      const answer = await api.call('listNotifications', {
        query: { ...(onlyUnread ? { unread: true } : {}), ...(cursor ? { cursor } : {}) },
      });
      if (asked !== generation.current) return;
      setPage(answer);
      setUnread(answer.unread);
      setError(null);
    } catch (err) {
      setError(message(err));
    }
  }, [onlyUnread, cursor]);
  useEffect(() => void load(), [load]);
  // A new notification shows at the top of the first page (on a later page, Previous finds it).
  const arrived = useStore(arrivals);
  const seen = useRef(arrived);
  useEffect(() => {
    if (arrived === seen.current) return;
    seen.current = arrived;
    if (!cursor) void load();
  }, [arrived]);

  const setQuery = (changes: Record<string, string | undefined>) =>
    setView({ onlyUnread, cursor: changes.cursor || undefined });

  const markRead = async (id: string) => {
    try {
      const read = await api.call('readNotification', { params: { id } });
      setPage((shown) => shown && { ...shown, items: shown.items.map((n) => (n.id === id ? read : n)) });
      refreshUnread();
    } catch (err) {
      setError(message(err));
    }
  };
  const markAll = async () => {
    try {
      const answer = await api.call('readAllNotifications');
      setUnread(answer.unread);
      await load();
    } catch (err) {
      setError(message(err));
    }
  };

  return (
    <main>
      <div class="title-row">
        <h1>Notifications</h1>
        {(count ?? 0) > 0 && (
          <button type="button" onClick={markAll}>
            Mark all read
          </button>
        )}
      </div>
      <div class="filters" role="group" aria-label="Show">
        {([false, true] as const).map((unreadOnly) => (
          <button
            key={String(unreadOnly)}
            type="button"
            class="secondary"
            aria-pressed={onlyUnread === unreadOnly}
            onClick={() => {
              visited.current = [];
              setView({ onlyUnread: unreadOnly });
            }}
          >
            {unreadOnly ? 'Unread' : 'All'}
          </button>
        ))}
        <span class="muted" data-testid="centre-unread">
          {count ?? '…'} unread
        </span>
        <a href="/channels">Channels</a> <a href="/notifications/preferences">Preferences</a>
      </div>
      {error && (
        <p role="alert" class="error-text">
          {error}
        </p>
      )}
      {page && page.items.length === 0 && (
        <p class="muted">{onlyUnread ? 'Nothing unread.' : 'No notifications yet.'}</p>
      )}
      {page && page.items.length > 0 && (
        <ul class="notifications" data-testid="notifications">
          {page.items.map((n) => (
            <li key={n.id} class={n.readAt ? 'read' : 'unread'} data-notification-id={n.id}>
              <div class="notification-head">
                <span class={`sev sev-${n.severity}`}>{n.severity}</span> <strong>{n.title}</strong>{' '}
                <time class="muted small" dateTime={n.createdAt}>
                  {new Date(n.createdAt).toLocaleString()}
                </time>
              </div>
              <p class="notification-body">{n.body}</p>
              <p class="row-actions">
                {n.incidentId && <a href={`/incidents/${n.incidentId}`}>Open the incident</a>}{' '}
                {!n.readAt && (
                  <button type="button" class="secondary" onClick={() => void markRead(n.id)}>
                    Mark read
                  </button>
                )}
              </p>
            </li>
          ))}
        </ul>
      )}
      {page && <Pager cursor={cursor} nextCursor={page.nextCursor} history={visited} setQuery={setQuery} />}
    </main>
  );
}
