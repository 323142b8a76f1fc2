import { useEffect, useRef, useState } from 'preact/hooks';
import type { Envelope } from '@crucible/shared/envelope';
import { connectLive } from './lib/live';
import type { Live, LiveState } from './lib/live';
import { createStore } from './lib/store';
import { api, session, signOut } from './session';

/** The signed-in user's one WebSocket, opened on sign-in and closed on sign-out. */
export const live = createStore<Live | null>(null);

function wsUrl(): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

/** A single-use ticket per connection attempt, so the session token never appears in a URL. */
async function ticket() {
  return { ticket: (await api.call('wsTicket')).ticket };
}

let openFor: string | null = null;
function follow(token: string | null) {
  if (token === openFor) return;
  live.get()?.close();
  openFor = token;
  // The gateway closes the socket of a session that ended (signed out on another device, or
  // everywhere): this browser is signed out too, rather than showing a page that can do nothing.
  live.set(token ? connectLive(wsUrl(), { credential: ticket, onRevoked: signOut }) : null);
}
follow(session.get()?.token ?? null);
session.subscribe((s) => follow(s?.token ?? null));

/** The connection's state, for the "reconnecting" indicator. */
export function useLiveState(): LiveState | null {
  const [state, setState] = useState<LiveState | null>(live.get()?.state ?? null);
  useEffect(() => {
    let off = () => {};
    const watch = (connection: Live | null) => {
      off();
      setState(connection?.state ?? null);
      off = connection ? connection.onState(setState) : () => {};
    };
    watch(live.get());
    const stop = live.subscribe(watch);
    return () => {
      stop();
      off();
    };
  }, []);
  return state;
}

export interface ChannelCallbacks {
  message(message: Envelope): void;
  reset?(): void;
  error?(code: string, detail: string): void;
}

/** Subscribes to `channel` (null: none) while the component is mounted; latest callbacks are used. */
export function useChannel(channel: string | null, callbacks: ChannelCallbacks): void {
  const latest = useRef(callbacks);
  latest.current = callbacks;
  useEffect(() => {
    const connection = live.get();
    if (!channel || !connection) return;
    return connection.subscribe(channel, {
      message: (m) => latest.current.message(m),
      reset: () => latest.current.reset?.(),
      error: (code, detail) => latest.current.error?.(code, detail),
    });
  }, [channel]);
}
