import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { ApiError } from '@crucible/client';
import type { ApiResponse } from '@crucible/client';
import type { ChannelView } from '@crucible/contracts/api';
import { useCurrentWorkspace } from '../components/monitor-bits';
import { Pager } from '../components/pager';
import { channelTarget } from '../lib/notifications';
import { api } from '../session';
import { SendTest, channelRights } from './channels';

const message = (err: unknown) => (err instanceof ApiError ? err.message : String(err));
type Trail = ApiResponse<'listChannelDeliveries'>;

/** One channel and its delivery trail: every delivery written and every attempt, newest first, paged. */
export function ChannelPage({ id }: { id: string }) {
  const { path, query, route } = useLocation();
  const current = useCurrentWorkspace();
  const rights = channelRights(current);
  const cursor = query.cursor || undefined;
  const [channel, setChannel] = useState<ChannelView | null>(null);
  const [trail, setTrail] = useState<Trail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const visited = useRef<string[]>([]);
  const load = useCallback(async () => {
    try {
      const [c, t] = await Promise.all([
        api.call('getNotificationChannel', { params: { id } }),
        api.call('listChannelDeliveries', {
          params: { id },
          query: { limit: 25, ...(cursor ? { cursor } : {}) },
        }),
      ]);
      setChannel(c);
      setTrail(t);
      setError(null);
    } catch (err) {
      setError(message(err));
    }
  }, [id, cursor]);
  useEffect(() => void load(), [load]);
  const setQuery = (changes: Record<string, string | undefined>) =>
    route(changes.cursor ? `${path}?cursor=${encodeURIComponent(changes.cursor)}` : path);

  return (
    <main>
      <p class="crumbs">
        <a href="/channels">Channels</a> /
      </p>
      <h1>{channel ? channel.name : 'Channel'}</h1>
      {error && (
        <p role="alert" class="error-text">
          {error}
        </p>
      )}
      {channel && (
        <p>
          <span class="type-tag">{channel.type}</span> <span class="url">{channelTarget(channel)}</span>{' '}
          {!channel.enabled && <span class="verdict-failed">disabled: {channel.disabledReason}</span>}
        </p>
      )}
      <div class="title-row">
        <h2>Delivery trail</h2>
        <span>
          {channel && rights.test && <SendTest channel={channel} />}{' '}
          <button type="button" class="secondary" onClick={() => void load()}>
            Refresh
          </button>
        </span>
      </div>
      {trail && trail.items.length === 0 && <p class="muted">Nothing sent yet.</p>}
      {trail && trail.items.length > 0 && (
        <div class="table-wrap">
          <table class="tests" data-testid="trail">
            <thead>
              <tr>
                <th scope="col">at</th>
                <th scope="col">event</th>
                <th scope="col">attempt</th>
                <th scope="col">status</th>
                <th scope="col">answer</th>
                <th scope="col">time</th>
              </tr>
            </thead>
            <tbody>
              {trail.items.map((line) => (
                <tr key={`${line.deliveryId}-${line.attempt}-${line.at}`} data-delivery-id={line.deliveryId}>
                  <td>
                    <time dateTime={line.at}>{new Date(line.at).toLocaleString()}</time>
                  </td>
                  <td>
                    {line.eventType}
                    <div class="muted small mono">{line.eventId}</div>
                  </td>
                  <td>{line.attempt === 0 ? 'written' : `#${line.attempt}`}</td>
                  <td
                    class={
                      line.status === 'delivered'
                        ? 'verdict-passed'
                        : line.status === 'failed'
                          ? 'verdict-failed'
                          : ''
                    }
                  >
                    {line.status}
                  </td>
                  <td>
                    {line.responseStatus !== null ? `HTTP ${line.responseStatus}` : ''}
                    {line.error && <div class="muted small">{line.error}</div>}
                  </td>
                  <td>{line.durationMs !== null ? `${line.durationMs} ms` : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {trail && <Pager cursor={cursor} nextCursor={trail.nextCursor} history={visited} setQuery={setQuery} />}
    </main>
  );
}
