import { CrucibleSocket } from '@crucible/client';
import type { Credential, WebSocketConstructor } from '@crucible/client';
import type { EventMessage } from '@crucible/contracts/envelope';

/**
 * The dashboard's view of the WebSocket protocol (DESIGN.md, "WebSocket protocol"): subscribe to a
 * channel and receive each of its messages once, in order, across reconnects — `CrucibleSocket`
 * of `@crucible/client` does the work; this adds the connection state the header shows.
 */
export type LiveState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ChannelHandlers {
  /** Typed by its event: publishers build every payload with the contract's types (EventPayloads). */
  message(message: EventMessage): void;
  /** The gateway could not replay what was missed: reload the state over HTTP. */
  reset?(): void;
  error?(code: string, detail: string): void;
}

export interface Live {
  readonly state: LiveState;
  onState(listener: (state: LiveState) => void): () => void;
  /**
   * Receives the channel's retained history from its start, then every new message; components
   * reading one channel share its subscription (one joining later gets what arrives from then on).
   */
  subscribe(channel: string, handlers: ChannelHandlers): () => void;
  close(): void;
}

export interface LiveOptions {
  /** A credential for each connection attempt (a fresh single-use ticket). */
  credential: () => Credential | Promise<Credential>;
  /** @defaultValue 5000: a page should not wait long once the network is back */
  maxReconnectMs?: number;
  /** @defaultValue globalThis.WebSocket */
  WebSocket?: WebSocketConstructor;
  /** The gateway closed the socket because its credential was revoked (4001: signed out elsewhere). @defaultValue none */
  onRevoked?: () => void;
}

/** The gateway's close code for a revoked credential (DESIGN.md, "WebSocket protocol"). */
const REVOKED = 4001;

export function connectLive(url: string | (() => Promise<string>), options: LiveOptions): Live {
  const listeners = new Set<(state: LiveState) => void>();
  let state: LiveState = 'connecting';
  const setState = (next: LiveState) => {
    if (state === next || state === 'closed') return;
    state = next;
    for (const listener of listeners) listener(next);
  };
  /** The readers of each subscribed channel; a later reader gets what arrives from then on. */
  const shared = new Map<string, { handlers: Set<ChannelHandlers>; subscription: { unsubscribe(): void } }>();
  const socket = new CrucibleSocket({
    url,
    credential: options.credential,
    maxReconnectMs: options.maxReconnectMs ?? 5000,
    ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}),
  });
  socket.on('open', () => setState('open'));
  socket.on('close', ({ code, willReconnect }) => {
    setState(willReconnect ? 'reconnecting' : 'closed');
    if (code === REVOKED) options.onRevoked?.();
  });

  return {
    get state() {
      return state;
    },
    onState(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    subscribe(channel, handlers) {
      // One socket subscription per channel, however many components read it (the bell and the
      // notification centre both follow the user's channel): a second `socket.subscribe` of one
      // channel throws, and a throw in an effect stops the app's later effects without a word.
      let readers = shared.get(channel);
      if (!readers) {
        const set = new Set<ChannelHandlers>();
        const each = (f: (h: ChannelHandlers) => void) => [...set].forEach(f);
        const subscription = socket.subscribe(channel, (m) => each((h) => h.message(m as EventMessage)), {
          since: { offset: 0 },
          onReset: () => each((h) => h.reset?.()),
          onError: (error) => each((h) => h.error?.(error.code, error.message)),
        });
        readers = { handlers: set, subscription };
        shared.set(channel, readers);
      }
      const entry = readers;
      const own = { ...handlers };
      entry.handlers.add(own);
      return () => {
        if (!entry.handlers.delete(own) || entry.handlers.size > 0) return;
        shared.delete(channel);
        entry.subscription.unsubscribe();
      };
    },
    close() {
      setState('closed');
      socket.close();
    },
  };
}
