import { channelKeys, pubsubPrefix } from '@crucible/shared';
import type { Redis } from 'ioredis';

export type BrokerMessageHandler = (channel: string, raw: string) => void;

/**
 * The gateway's one Redis pub/sub connection: SUBSCRIBE per channel while any local session
 * reads it, so the number of Redis subscriptions follows local interest, not socket count.
 */
export class Broker {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #onMessage: BrokerMessageHandler;
  // The pending or confirmed SUBSCRIBE of each channel: later subscribers await the same one.
  readonly #subscriptions = new Map<string, Promise<void>>();
  readonly #listener = (pubsub: string, raw: string) => {
    const base = pubsubPrefix(this.#prefix);
    if (pubsub.startsWith(base)) this.#onMessage(pubsub.slice(base.length), raw);
  };

  constructor(redis: Redis, prefix: string, onMessage: BrokerMessageHandler) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#onMessage = onMessage;
    redis.on('message', this.#listener);
  }

  /**
   * Resolves once Redis confirmed the subscription; from then on every message published to the
   * channel reaches the handler (what makes replay-then-live gapless).
   */
  subscribe(channel: string): Promise<void> {
    let pending = this.#subscriptions.get(channel);
    if (!pending) {
      pending = this.#redis.subscribe(channelKeys(this.#prefix, channel).pubsub).then(
        () => undefined,
        (err: unknown) => {
          if (this.#subscriptions.get(channel) === pending) this.#subscriptions.delete(channel);
          throw err;
        },
      );
      this.#subscriptions.set(channel, pending);
    }
    return pending;
  }

  async unsubscribe(channel: string): Promise<void> {
    if (!this.#subscriptions.delete(channel)) return;
    // Commands on one connection run in order, so an immediate re-SUBSCRIBE still ends subscribed.
    await this.#redis.unsubscribe(channelKeys(this.#prefix, channel).pubsub);
  }

  /** Channels currently subscribed or being subscribed. */
  get size(): number {
    return this.#subscriptions.size;
  }

  /** Stops dispatching; the caller owns (and quits) the Redis connection. */
  close(): void {
    this.#redis.off('message', this.#listener);
  }
}
