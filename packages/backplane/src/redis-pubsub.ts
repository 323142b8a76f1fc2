import type { Redis } from 'ioredis';
import type { PubSub, PubSubHandler } from '@crucible/contracts';

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
