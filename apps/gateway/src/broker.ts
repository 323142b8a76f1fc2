import { channelTopic } from '@crucible/contracts';
import type { PubSub, PubSubHandler } from '@crucible/contracts';

export type BrokerMessageHandler = (channel: string, raw: string) => void;

const TOPIC_PREFIX = channelTopic('');

/**
 * The gateway's side of the bus (`RedisPubSub` in distributed mode, `MemoryPubSub` embedded):
 * one subscription per channel while any local session reads it, so the number of bus
 * subscriptions follows local interest, not socket count.
 */
export class Broker {
  readonly #pubsub: PubSub;
  readonly #onMessage: BrokerMessageHandler;
  // The pending or confirmed subscription of each channel: later subscribers await the same one.
  readonly #subscriptions = new Map<string, Promise<void>>();
  // One handler for every topic, so unsubscribing hands the bus back the very function it holds.
  readonly #handler: PubSubHandler = (raw, topic) => {
    if (topic.startsWith(TOPIC_PREFIX)) this.#onMessage(topic.slice(TOPIC_PREFIX.length), raw);
  };

  constructor(pubsub: PubSub, onMessage: BrokerMessageHandler) {
    this.#pubsub = pubsub;
    this.#onMessage = onMessage;
  }

  /**
   * Resolves once the bus confirmed the subscription; from then on every message published to the
   * channel reaches the handler (what makes replay-then-live gapless).
   */
  subscribe(channel: string): Promise<void> {
    let pending = this.#subscriptions.get(channel);
    if (!pending) {
      pending = this.#pubsub.subscribe(channelTopic(channel), this.#handler).catch(async (err: unknown) => {
        if (this.#subscriptions.get(channel) === pending) this.#subscriptions.delete(channel);
        // The bus registered the handler before it failed to subscribe; take it back.
        await this.#pubsub.unsubscribe(channelTopic(channel), this.#handler).catch(() => {});
        throw err;
      });
      this.#subscriptions.set(channel, pending);
    }
    return pending;
  }

  async unsubscribe(channel: string): Promise<void> {
    if (!this.#subscriptions.delete(channel)) return;
    // Commands on one connection run in order, so an immediate re-subscribe still ends subscribed.
    await this.#pubsub.unsubscribe(channelTopic(channel), this.#handler);
  }

  /** Channels currently subscribed or being subscribed. */
  get size(): number {
    return this.#subscriptions.size;
  }

  /** Releases every channel still held; the caller owns (and closes) the bus. */
  async close(): Promise<void> {
    const channels = [...this.#subscriptions.keys()];
    await Promise.allSettled(channels.map((channel) => this.unsubscribe(channel)));
  }
}
