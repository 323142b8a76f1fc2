import { useEffect, useRef, useState } from 'preact/hooks';
import type { EventMessage } from '@crucible/contracts/envelope';
import { resolveWsUrl } from '@crucible/client';
import { connectLive } from './lib/live';
import type { Live, LiveState } from './lib/live';
import { createStore } from './lib/store';
import { api, session, signOut } from './session';

/** The signed-in user's one WebSocket, opened on sign-in and closed on sign-out. */
export const live = createStore<Live | null>(null);

let gateway: Promise<string> | undefined;
/**
 * Where the API says the gateway is (`GET /api/meta`): this origin's `/ws` in the all-in-one server
 * and behind an ingress, another host or port where a deployment says so (`PUBLIC_WS_URL`). Asked
 * once; a failed answer is asked again on the next connection attempt.
 */
function wsUrl(): Promise<string> {
  gateway ??= api.call('meta').then(
    (meta) => resolveWsUrl(meta.wsUrl, location.origin),
    (err: unknown) => {
      gateway = undefined;
      throw err;
    },
  );
  return gateway;
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
  live.set(token ? connectLive(wsUrl, { credential: ticket, onRevoked: signOut }) : null);
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
  message(message: EventMessage): void;
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

/**
 * An anonymous socket for a share link's public page: `?share=` is its only credential, so it reads
 * that share's channel and nothing else, signed in or not. `onRevoked`: closed with 4001 (revoked).
 */
export function connectShared(shareId: string, onRevoked: () => void): Live {
  return connectLive(wsUrl, { credential: () => ({ share: shareId }), onRevoked });
}
