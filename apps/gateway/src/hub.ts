import type { Broker } from './broker.js';

/** A local reader of channels: what the hub fans messages out to. */
export interface HubSubscriber {
  deliver(channel: string, raw: string, position: { offset: number; epoch: string }): void;
}

export interface HubLogger {
  warn(obj: object, msg: string): void;
}

/**
 * Channel → local subscribers. The first subscriber of a channel makes the broker SUBSCRIBE,
 * the last one to leave makes it UNSUBSCRIBE (Centrifuge's hub/node split).
 */
export class Hub {
  readonly #broker: Pick<Broker, 'subscribe' | 'unsubscribe'>;
  readonly #log: HubLogger;
  readonly #channels = new Map<string, Set<HubSubscriber>>();

  constructor(broker: Pick<Broker, 'subscribe' | 'unsubscribe'>, log: HubLogger) {
    this.#broker = broker;
    this.#log = log;
  }

  /** Adds the subscriber and resolves once the broker receives the channel's messages. */
  async subscribe(channel: string, subscriber: HubSubscriber): Promise<void> {
    let set = this.#channels.get(channel);
    if (!set) {
      set = new Set();
      this.#channels.set(channel, set);
    }
    set.add(subscriber);
    try {
      await this.#broker.subscribe(channel);
    } catch (err) {
      await this.unsubscribe(channel, subscriber);
      throw err;
    }
  }

  async unsubscribe(channel: string, subscriber: HubSubscriber): Promise<void> {
    const set = this.#channels.get(channel);
    if (!set?.delete(subscriber) || set.size > 0) return;
    this.#channels.delete(channel);
    await this.#broker.unsubscribe(channel);
  }

  /** Fans one published message out; it is parsed once here, not once per subscriber. */
  dispatch(channel: string, raw: string): void {
    const set = this.#channels.get(channel);
    if (!set) return;
    let position: { offset: number; epoch: string };
    try {
      const parsed = JSON.parse(raw) as { offset?: unknown; epoch?: unknown };
      if (typeof parsed.offset !== 'number' || typeof parsed.epoch !== 'string')
        throw new TypeError('no position');
      position = { offset: parsed.offset, epoch: parsed.epoch };
    } catch (err) {
      this.#log.warn({ err, channel }, 'dropped a malformed channel message');
      return;
    }
    for (const subscriber of set) subscriber.deliver(channel, raw, position);
  }

  /** Channels with at least one local subscriber. */
  get channelCount(): number {
    return this.#channels.size;
  }
}
