import type { Redis } from 'ioredis';

export type PubSubHandler = (payload: string, topic: string) => void;

/**
 * Fire-and-forget broadcast between processes: control messages (cancel, cache invalidation) and the
 * live side of channels. Redis pub/sub in distributed mode, an in-process bus in embedded mode.
 * Topics are local names; an implementation namespaces them per deployment.
 */
export interface PubSub {
  publish(topic: string, payload: string): Promise<void>;
  /** The first handler of a topic subscribes it; later ones share that subscription. */
  subscribe(topic: string, handler: PubSubHandler): Promise<void>;
  /** The last handler leaving a topic unsubscribes it. */
  unsubscribe(topic: string, handler: PubSubHandler): Promise<void>;
  /**
   * Calls `listener` each time the bus has re-established its subscriptions after losing its
   * connection: messages published meanwhile were not delivered, so readers should recover them
   * from history. A bus that cannot lose messages (in-process) never calls it.
   */
  onReconnect?(listener: () => void): void;
  close(): Promise<void>;
}

/** The pub/sub topic that carries a Crucible channel's live messages (see `channelKeys().pubsub`). */
export function channelTopic(channel: string): string {
  return `ch:${channel}`;
}

/**
 * Redis pub/sub with one SUBSCRIBE per topic however many local handlers it has. `subscriber`
 * must be a dedicated connection (a subscribed connection can run nothing else); `publisher` may be shared.
 */
export class RedisPubSub implements PubSub {
  readonly #subscriber: Redis;
  readonly #publisher: Redis;
  readonly #prefix: string;
  readonly #handlers = new Map<string, Set<PubSubHandler>>();
  readonly #reconnectListeners = new Set<() => void>();
  #disconnected = false;

  constructor(options: { subscriber: Redis; publisher: Redis; prefix: string }) {
    this.#subscriber = options.subscriber;
    this.#publisher = options.publisher;
    this.#prefix = `${options.prefix}:`;
    this.#subscriber.on('close', () => (this.#disconnected = true));
    this.#subscriber.on('ready', () => {
      if (!this.#disconnected) return;
      this.#disconnected = false;
      // ioredis re-sends SUBSCRIBE for every channel before emitting 'ready'; commands on one
      // connection answer in order, so once this PING returns every subscription is back.
      this.#subscriber.ping().then(
        () => {
          for (const listener of this.#reconnectListeners) listener();
        },
        // Lost again before the PING came back: the next 'ready' tries again.
        () => (this.#disconnected = true),
      );
    });
    this.#subscriber.on('message', (redisChannel: string, payload: string) => {
      if (!redisChannel.startsWith(this.#prefix)) return;
      const topic = redisChannel.slice(this.#prefix.length);
      const handlers = this.#handlers.get(topic);
      if (!handlers) return;
      for (const h of handlers) h(payload, topic);
    });
  }

  async publish(topic: string, payload: string): Promise<void> {
    await this.#publisher.publish(this.#prefix + topic, payload);
  }

  async subscribe(topic: string, handler: PubSubHandler): Promise<void> {
    let set = this.#handlers.get(topic);
    if (!set) {
      set = new Set();
      this.#handlers.set(topic, set);
      set.add(handler);
      await this.#subscriber.subscribe(this.#prefix + topic);
      return;
    }
    set.add(handler);
  }

  async unsubscribe(topic: string, handler: PubSubHandler): Promise<void> {
    const set = this.#handlers.get(topic);
    if (!set) return;
    set.delete(handler);
    if (set.size === 0) {
      this.#handlers.delete(topic);
      await this.#subscriber.unsubscribe(this.#prefix + topic);
    }
  }

  onReconnect(listener: () => void): void {
    this.#reconnectListeners.add(listener);
  }

  async close(): Promise<void> {
    this.#handlers.clear();
    this.#reconnectListeners.clear();
    this.#subscriber.disconnect();
  }
}

/** The embedded-mode bus: every subscriber lives in this process. */
export class MemoryPubSub implements PubSub {
  readonly #handlers = new Map<string, Set<PubSubHandler>>();

  async publish(topic: string, payload: string): Promise<void> {
    const handlers = this.#handlers.get(topic);
    if (!handlers) return;
    // Delivered on a later tick, like a network bus, so publishers never run subscriber code inline.
    queueMicrotask(() => {
      for (const h of handlers) h(payload, topic);
    });
  }

  async subscribe(topic: string, handler: PubSubHandler): Promise<void> {
    let set = this.#handlers.get(topic);
    if (!set) this.#handlers.set(topic, (set = new Set()));
    set.add(handler);
  }

  async unsubscribe(topic: string, handler: PubSubHandler): Promise<void> {
    const set = this.#handlers.get(topic);
    set?.delete(handler);
    if (set?.size === 0) this.#handlers.delete(topic);
  }

  async close(): Promise<void> {
    this.#handlers.clear();
  }
}
