import type { Envelope } from '@crucible/shared/envelope';

/**
 * The dashboard's view of the WebSocket protocol (DESIGN.md, "WebSocket protocol"): subscribe to a
 * channel and receive each of its messages once, in order, across reconnects. Kept this small so
 * the gateway's full client (`@crucible/client` ws-client) can stand behind it.
 */
export type LiveState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ChannelHandlers {
  message(message: Envelope): void;
  /** The gateway could not replay what was missed: reload the state over HTTP. */
  reset?(): void;
  error?(code: string, detail: string): void;
}

export interface Live {
  readonly state: LiveState;
  onState(listener: (state: LiveState) => void): () => void;
  /** Receives the channel's retained history from its start, then every new message. */
  subscribe(channel: string, handlers: ChannelHandlers): () => void;
  close(): void;
}

interface Channel {
  handlers: ChannelHandlers;
  epoch: string;
  offset: number;
}

type ServerFrame =
  | { type: 'subscribed'; channel: string; epoch: string; offset: number; recovered: boolean }
  | { type: 'error'; code: string; channel?: string; detail: string }
  | { type: 'batch'; messages: Envelope[] }
  | { type: 'unsubscribed' | 'pong'; channel?: string }
  | (Envelope & { type?: undefined });

export interface LiveOptions {
  /** @defaultValue 500 */
  minDelayMs?: number;
  /** @defaultValue 5000 */
  maxDelayMs?: number;
  /** @defaultValue globalThis.WebSocket */
  WebSocket?: typeof WebSocket;
}

/** Connects to `url` (with `?token=`), reconnecting with backoff and resuming every channel by offset. */
export function connectLive(url: string, options: LiveOptions = {}): Live {
  const Socket = options.WebSocket ?? globalThis.WebSocket;
  const minDelay = options.minDelayMs ?? 500;
  const maxDelay = options.maxDelayMs ?? 5000;
  const channels = new Map<string, Channel>();
  const listeners = new Set<(state: LiveState) => void>();
  let state: LiveState = 'connecting';
  let socket: WebSocket | null = null;
  let delay = minDelay;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const setState = (next: LiveState) => {
    if (state === next) return;
    state = next;
    for (const listener of listeners) listener(next);
  };
  const send = (frame: object) => {
    if (socket?.readyState === Socket.OPEN) socket.send(JSON.stringify(frame));
  };
  const sendSubscribe = (name: string, channel: Channel) =>
    send({
      type: 'subscribe',
      channel: name,
      since: channel.epoch ? { epoch: channel.epoch, offset: channel.offset } : { offset: channel.offset },
    });

  const deliver = (message: Envelope) => {
    const channel = channels.get(message.channel);
    if (!channel) return;
    // A message at or before the last one seen is a replayed duplicate.
    if (message.epoch === channel.epoch && message.offset <= channel.offset) return;
    channel.epoch = message.epoch;
    channel.offset = message.offset;
    channel.handlers.message(message);
  };

  const onFrame = (frame: ServerFrame) => {
    switch (frame.type) {
      case 'batch':
        for (const message of frame.messages) deliver(message);
        return;
      case 'subscribed': {
        const channel = channels.get(frame.channel);
        if (!channel) return;
        if (!frame.recovered) {
          channel.epoch = frame.epoch;
          channel.offset = frame.offset;
          channel.handlers.reset?.();
        } else if (!channel.epoch) {
          channel.epoch = frame.epoch;
        }
        return;
      }
      case 'error':
        if (frame.channel) channels.get(frame.channel)?.handlers.error?.(frame.code, frame.detail);
        return;
      case undefined:
        if (frame.channel) deliver(frame);
        return;
      default:
        return;
    }
  };

  const connect = () => {
    socket = new Socket(url);
    socket.onopen = () => {
      delay = minDelay;
      setState('open');
      for (const [name, channel] of channels) sendSubscribe(name, channel);
    };
    socket.onmessage = (event) => {
      let frame: ServerFrame;
      try {
        frame = JSON.parse(String(event.data)) as ServerFrame;
      } catch {
        return;
      }
      onFrame(frame);
    };
    socket.onclose = () => {
      socket = null;
      if (state === 'closed') return;
      setState('reconnecting');
      timer = setTimeout(connect, delay);
      delay = Math.min(delay * 2, maxDelay);
    };
  };
  connect();

  return {
    get state() {
      return state;
    },
    onState(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    subscribe(name, handlers) {
      const channel: Channel = { handlers, epoch: '', offset: 0 };
      channels.set(name, channel);
      sendSubscribe(name, channel);
      return () => {
        if (channels.get(name) !== channel) return;
        channels.delete(name);
        send({ type: 'unsubscribe', channel: name });
      };
    },
    close() {
      setState('closed');
      clearTimeout(timer);
      socket?.close();
    },
  };
}
