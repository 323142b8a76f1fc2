import type { ConnectionEstablishedData } from '@crucible/contracts';
import type { Envelope } from '@crucible/contracts/envelope';
import { ACK_IDS_MAX, DEFAULT_ACK_DELAY_MS } from '@crucible/contracts/socket-frames';
import type { ClientFrame } from '@crucible/contracts/socket-frames';

/** Where a channel's reader stands: the last message it has seen. */
export interface ChannelPosition {
  epoch: string;
  offset: number;
}

/** A channel message as the client hands it over. */
export type ChannelMessage<D = unknown> = Envelope<D> & {
  /** CRITICAL/HIGH: the client acknowledges it (automatically unless `autoAck` is false). */
  ackRequired?: boolean;
  /** Sent again on resume because it was never acknowledged: it may have been handled already. */
  redelivered?: boolean;
};

export type ErrorCode = 'FORBIDDEN' | 'BAD_REQUEST' | 'LIMIT' | 'NOT_FOUND' | 'UNAVAILABLE';

/** A refused subscribe, or any other error frame of the server. */
export class ChannelError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly channel: string | undefined,
    detail: string,
  ) {
    super(detail);
    this.name = 'ChannelError';
  }
}

/** The part of the WebSocket API the client uses: browsers' `WebSocket` and the `ws` package both have it. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: 'error', listener: (event: unknown) => void): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/**
 * A token or API key (`?token=`), a single-use ticket from `POST /api/auth/ws-ticket` (`?ticket=`),
 * or a share link's public id (`?share=`): an anonymous socket that reads that share's channel only.
 */
export type Credential = { token: string } | { ticket: string } | { share: string };

export interface CrucibleSocketOptions {
  /**
   * The gateway, e.g. `wss://crucible.example.com/ws`, or a function asked before every connection
   * attempt (a failure counts as a failed attempt), e.g. one reading `GET /api/meta` once.
   */
  url: string | (() => string | Promise<string>);
  /** Asked before every connection attempt: a ticket can be used once, so each attempt needs a new one. */
  credential: () => Credential | Promise<Credential>;
  /** The WebSocket implementation. @defaultValue `globalThis.WebSocket` (browsers); pass `ws`'s in Node 20 */
  WebSocket?: WebSocketConstructor;
  /** Delay before the first reconnect attempt, doubled (with jitter) up to `maxReconnectMs`. @defaultValue 500 */
  initialReconnectMs?: number;
  /** Longest delay between reconnect attempts. @defaultValue 15000 */
  maxReconnectMs?: number;
  /** Acknowledge `ackRequired` messages once their handler returned. @defaultValue true */
  autoAck?: boolean;
  /**
   * How long handled `ackRequired` messages wait to be acknowledged together, in one
   * `{"type":"ack","ids":[…]}` frame (0: each at once in a frame of its own). One frame per message
   * made the gateway read a frame per socket per message. @defaultValue 100
   */
  ackDelayMs?: number;
}

export interface SubscribeOptions {
  /**
   * Where to start. `{offset: 0}` replays the channel's retained history first (what a page that
   * just submitted a test wants). @defaultValue none: only messages published from now on
   */
  since?: { epoch?: string; offset: number };
  /** The server could not replay what was missed (history trimmed or lost): reload the state over HTTP. */
  onReset?: (position: ChannelPosition) => void;
  /** The subscribe was refused; the subscription is over. */
  onError?: (error: ChannelError) => void;
}

export interface ChannelSubscription {
  readonly channel: string;
  /** The last message seen, what a resume starts after; undefined before the first `subscribed`. */
  readonly position: ChannelPosition | undefined;
  unsubscribe(): void;
}

type Handler = (message: ChannelMessage) => void;

interface Entry {
  channel: string;
  handler: Handler;
  options: SubscribeOptions;
  position: ChannelPosition | undefined;
  /** Resume from here on the next subscribe (the position, or the caller's `since` before any). */
  since: { epoch?: string; offset: number } | undefined;
}

type SocketEvent = 'open' | 'close' | 'error';
type SocketListener = {
  open: (info: { connectionId: string; userId: string }) => void;
  close: (info: { code: number; reason: string; willReconnect: boolean }) => void;
  error: (error: Error) => void;
};

/** Close codes after which reconnecting with the same credential is pointless. */
const FINAL_CLOSE_CODES = new Set([1008, 1009, 4001]);
const OPEN = 1;

/** The delay before reconnect attempt `attempt` (0-based): exponential with full jitter. */
export function reconnectDelay(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** The gateway URL with the credential as its query parameter. */
export function withCredential(url: string, credential: Credential): string {
  const u = new URL(url);
  if ('ticket' in credential) u.searchParams.set('ticket', credential.ticket);
  else if ('share' in credential) u.searchParams.set('share', credential.share);
  else u.searchParams.set('token', credential.token);
  return u.toString();
}

/**
 * The gateway's address from `GET /api/meta`'s `wsUrl`: an absolute `ws:`/`wss:` URL as it is, a
 * path appended to the address the API was reached at (`https://host/crucible` + `/ws` →
 * `wss://host/crucible/ws`).
 */
export function resolveWsUrl(wsUrl: string, apiBaseUrl: string): string {
  if (!wsUrl.startsWith('/')) return new URL(wsUrl).toString();
  const url = new URL(apiBaseUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${wsUrl}`;
  url.search = '';
  url.hash = '';
  return url.toString();
}

/** One id's ack in the single-id frame every gateway reads; several in one `ids` frame. */
const ackFrame = (ids: string[]): ClientFrame =>
  ids.length === 1 ? { type: 'ack', id: ids[0]! } : { type: 'ack', ids };

/**
 * A client of the gateway's protocol (docs/websocket.md) for browsers and Node.js: it reconnects
 * on its own, re-subscribes every channel with `since` = the last message it saw, drops duplicates,
 * acknowledges CRITICAL/HIGH messages and answers the server's heartbeat with its own pings.
 */
export class CrucibleSocket {
  readonly #options: Required<Omit<CrucibleSocketOptions, 'WebSocket'>> & { WebSocket: WebSocketConstructor };
  readonly #entries = new Map<string, Entry>();
  readonly #listeners: { [K in SocketEvent]: Set<SocketListener[K]> } = {
    open: new Set(),
    close: new Set(),
    error: new Set(),
  };
  #socket: WebSocketLike | undefined;
  #attempt = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  #heardSinceLastPing = true;
  #stopped = false;
  #connectionId: string | undefined;
  /** Handled messages not acknowledged yet, and the timer that sends them. */
  #acks: string[] = [];
  #ackTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: CrucibleSocketOptions) {
    const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocketImpl) throw new TypeError('no WebSocket implementation: pass one (e.g. the `ws` package)');
    this.#options = {
      initialReconnectMs: 500,
      maxReconnectMs: 15_000,
      autoAck: true,
      ackDelayMs: DEFAULT_ACK_DELAY_MS,
      ...options,
      WebSocket: WebSocketImpl,
    };
    void this.#connect();
  }

  /** The server's id of the current connection, once open. */
  get connectionId(): string | undefined {
    return this.#connectionId;
  }

  on<K extends SocketEvent>(event: K, listener: SocketListener[K]): () => void {
    this.#listeners[event].add(listener);
    return () => this.#listeners[event].delete(listener);
  }

  /** Reads a channel until `unsubscribe()`, across reconnects, each message once and in order. */
  subscribe<D = unknown>(
    channel: string,
    handler: (message: ChannelMessage<D>) => void,
    options: SubscribeOptions = {},
  ): ChannelSubscription {
    if (this.#entries.has(channel)) throw new Error(`already subscribed to ${channel}`);
    const entry: Entry = {
      channel,
      handler: handler as Handler,
      options,
      position: undefined,
      since: options.since,
    };
    this.#entries.set(channel, entry);
    this.#sendSubscribe(entry);
    const entries = this.#entries;
    const send = (frame: ClientFrame) => this.#send(frame);
    return {
      channel,
      get position() {
        return entry.position;
      },
      unsubscribe() {
        if (entries.get(channel) !== entry) return;
        entries.delete(channel);
        send({ type: 'unsubscribe', channel });
      },
    };
  }

  /** Closes for good: no reconnect. */
  close(): void {
    this.#sendAcks();
    this.#stopped = true;
    clearTimeout(this.#reconnectTimer);
    this.#stopHeartbeat();
    this.#socket?.close(1000, 'client closed');
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    let credential: Credential;
    let url: string;
    try {
      const { url: address } = this.#options;
      url = typeof address === 'string' ? address : await address();
      credential = await this.#options.credential();
    } catch (err) {
      this.#emit('error', err instanceof Error ? err : new Error(String(err)));
      return this.#scheduleReconnect();
    }
    if (this.#stopped) return;
    const socket = new this.#options.WebSocket(withCredential(url, credential));
    this.#socket = socket;
    const current = () => this.#socket === socket;
    socket.addEventListener('message', (event) => {
      if (current()) this.#onText(typeof event.data === 'string' ? event.data : String(event.data));
    });
    socket.addEventListener('error', () => {
      if (current()) this.#emit('error', new Error('WebSocket error'));
    });
    socket.addEventListener('close', (event) => {
      if (!current()) return;
      this.#onClose(event.code, event.reason);
    });
  }

  #onClose(code: number, reason: string): void {
    this.#socket = undefined;
    this.#connectionId = undefined;
    this.#stopHeartbeat();
    const willReconnect = !this.#stopped && !FINAL_CLOSE_CODES.has(code);
    this.#emit('close', { code, reason, willReconnect });
    if (willReconnect) this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#stopped) return;
    const { initialReconnectMs, maxReconnectMs } = this.#options;
    const delay = reconnectDelay(this.#attempt++, initialReconnectMs, maxReconnectMs);
    this.#reconnectTimer = setTimeout(() => void this.#connect(), delay);
  }

  #onText(text: string): void {
    this.#heardSinceLastPing = true;
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return this.#emit('error', new Error('the server sent a frame that is not JSON'));
    }
    if (frame.type === 'batch') {
      for (const message of frame.messages as ChannelMessage[]) this.#onMessage(message);
      return;
    }
    if (typeof frame.event === 'string') return this.#onMessage(frame as unknown as ChannelMessage);
    switch (frame.type) {
      case 'subscribed':
        return this.#onSubscribed(
          frame as unknown as ChannelPosition & { channel: string; recovered: boolean },
        );
      case 'error':
        return this.#onError(frame as { code: ErrorCode; channel?: string; detail: string });
      default:
        // pong, unsubscribed: nothing to do beyond having heard from the server.
        return;
    }
  }

  #onMessage(message: ChannelMessage): void {
    if (message.event === 'connection:established') {
      const data = message.data as ConnectionEstablishedData;
      this.#attempt = 0;
      this.#connectionId = data.connectionId;
      this.#startHeartbeat(data.heartbeatMs);
      // Acks are the user's, not the connection's: what the last connection could not send goes
      // out before the resumes, so none of it comes back redelivered.
      this.#sendAcks();
      this.#emit('open', { connectionId: data.connectionId, userId: data.userId });
      for (const entry of this.#entries.values()) this.#sendSubscribe(entry);
      return;
    }
    const entry = this.#entries.get(message.channel);
    if (!entry) return;
    const last = entry.position;
    if (!message.redelivered) {
      if (last && message.epoch === last.epoch && message.offset <= last.offset) return;
      entry.position = { epoch: message.epoch, offset: message.offset };
      entry.since = entry.position;
    }
    entry.handler(message);
    if (message.ackRequired && this.#options.autoAck) this.#ack(message.id);
  }

  /** Acknowledges a handled message: at once, or with the others handled within `ackDelayMs`. */
  #ack(id: string): void {
    this.#acks.push(id);
    if (this.#options.ackDelayMs <= 0 || this.#acks.length >= ACK_IDS_MAX) return this.#sendAcks();
    this.#ackTimer ??= setTimeout(() => this.#sendAcks(), this.#options.ackDelayMs);
  }

  /** Sends the pending acks in one frame; while no connection is open they wait for the next. */
  #sendAcks(): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    while (this.#acks.length > 0) {
      const ids = this.#acks.slice(0, ACK_IDS_MAX);
      if (!this.#send(ackFrame(ids))) return;
      this.#acks.splice(0, ids.length);
    }
  }

  #onSubscribed(frame: ChannelPosition & { channel: string; recovered: boolean }): void {
    const entry = this.#entries.get(frame.channel);
    if (!entry) return;
    const position = { epoch: frame.epoch, offset: frame.offset };
    if (!frame.recovered) {
      entry.position = position;
      entry.since = position;
      entry.options.onReset?.(position);
      return;
    }
    // Recovered: the replay that follows starts after what was asked for; without `since`,
    // live messages start after the channel's current position.
    if (!entry.since) {
      entry.position = position;
      entry.since = position;
    } else if (!entry.position) {
      entry.position = { epoch: frame.epoch, offset: entry.since.offset };
    }
  }

  #onError(frame: { code: ErrorCode; channel?: string; detail: string }): void {
    const error = new ChannelError(frame.code, frame.channel, frame.detail);
    const entry = frame.channel === undefined ? undefined : this.#entries.get(frame.channel);
    if (!entry) return this.#emit('error', error);
    if (frame.code === 'UNAVAILABLE') {
      // The server could not read the channel's history just now: ask again shortly.
      setTimeout(() => this.#sendSubscribe(entry), this.#options.initialReconnectMs);
      return;
    }
    this.#entries.delete(entry.channel);
    if (entry.options.onError) entry.options.onError(error);
    else this.#emit('error', error);
  }

  #sendSubscribe(entry: Entry): void {
    if (this.#entries.get(entry.channel) !== entry) return;
    const since = entry.since;
    this.#send(
      since
        ? {
            type: 'subscribe',
            channel: entry.channel,
            since: since.epoch ? { epoch: since.epoch, offset: since.offset } : { offset: since.offset },
          }
        : { type: 'subscribe', channel: entry.channel },
    );
  }

  /** Sends a frame if a connection is open; false when it could not. */
  #send(frame: ClientFrame): boolean {
    // Before `connection:established` nothing is sent: subscriptions go out once it arrives.
    if (this.#socket?.readyState !== OPEN || this.#connectionId === undefined) return false;
    this.#socket.send(JSON.stringify(frame));
    return true;
  }

  /**
   * Browsers answer the server's protocol pings but cannot see them, so the client sends its own
   * `ping` each interval; a connection that said nothing for a whole interval is dropped and
   * re-established.
   */
  #startHeartbeat(intervalMs: number): void {
    this.#stopHeartbeat();
    this.#heardSinceLastPing = true;
    this.#heartbeatTimer = setInterval(() => {
      const socket = this.#socket;
      if (!socket) return;
      if (!this.#heardSinceLastPing) {
        this.#socket = undefined;
        socket.close(4000, 'heartbeat timeout');
        this.#onClose(4000, 'heartbeat timeout');
        return;
      }
      this.#heardSinceLastPing = false;
      this.#send({ type: 'ping' });
    }, intervalMs);
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
  }

  #emit<K extends SocketEvent>(event: K, payload: Parameters<SocketListener[K]>[0]): void {
    for (const listener of this.#listeners[event]) (listener as (p: typeof payload) => void)(payload);
  }
}
