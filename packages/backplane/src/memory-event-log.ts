import { randomUUID } from 'node:crypto';
import { channelTopic } from '@crucible/contracts';
import type { DraftMessage, Envelope, EventLog, PubSub, Recovery } from '@crucible/contracts';
import type { EventLogOptions } from './redis-event-log.js';

interface MemoryChannel {
  epoch: string;
  offset: number;
  /** Retained messages, oldest first, at most `maxLen`. */
  messages: Envelope[];
  /** When the channel expires unless another message arrives. */
  expiresAt: number;
}

/**
 * The embedded-mode event log: the same offsets, epochs and bounded history as `RedisEventLog`,
 * kept in this process, publishing to `channelTopic(channel)` on an in-process bus. History dies
 * with the process; a restarted process starts new epochs, so clients see `recovered: false`
 * and reload over HTTP, exactly as after a Redis loss.
 */
export class MemoryEventLog implements EventLog {
  readonly #pubsub: PubSub;
  readonly #maxLen: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  // Iteration order is the order of last publish, so expired channels are always at the front.
  readonly #channels = new Map<string, MemoryChannel>();

  constructor(
    pubsub: PubSub,
    options: Omit<EventLogOptions, 'prefix'> & {
      /** Clock, for tests of expiry. @defaultValue Date.now */
      now?: () => number;
    } = {},
  ) {
    this.#pubsub = pubsub;
    this.#maxLen = Math.max(1, options.maxLen ?? 1000);
    this.#ttlMs = options.ttlMs ?? 24 * 60 * 60 * 1000;
    this.#now = options.now ?? Date.now;
  }

  async publish<D>(draft: DraftMessage<D>): Promise<Envelope<D>> {
    const now = this.#now();
    this.#expire(now);
    let ch = this.#channels.get(draft.channel);
    if (ch) this.#channels.delete(draft.channel);
    else ch = { epoch: randomUUID().slice(0, 8), offset: 0, messages: [], expiresAt: 0 };
    ch.offset += 1;
    ch.expiresAt = now + this.#ttlMs;
    this.#channels.set(draft.channel, ch);
    const message = { ...draft, offset: ch.offset, epoch: ch.epoch } as Envelope<D>;
    ch.messages.push(message);
    if (ch.messages.length > this.#maxLen) ch.messages.splice(0, ch.messages.length - this.#maxLen);
    // Appended and handed to the bus in one synchronous step: live order is offset order.
    await this.#pubsub.publish(channelTopic(draft.channel), JSON.stringify(message));
    return message;
  }

  async publishAll(drafts: readonly DraftMessage[]): Promise<Envelope[]> {
    const messages: Envelope[] = [];
    for (const draft of drafts) messages.push(await this.publish(draft));
    return messages;
  }

  async recover(channel: string, sinceOffset: number): Promise<Recovery> {
    this.#expire(this.#now());
    const ch = this.#channels.get(channel);
    if (!ch) return { epoch: null, offset: 0, messages: [], complete: true };
    const from = Math.max(0, Math.floor(sinceOffset)) + 1;
    const messages = ch.messages.filter((m) => m.offset >= from);
    return {
      epoch: ch.epoch,
      offset: ch.offset,
      messages,
      complete: messages.length === Math.max(0, ch.offset - from + 1),
    };
  }

  #expire(now: number): void {
    for (const [name, ch] of this.#channels) {
      if (ch.expiresAt > now) return;
      this.#channels.delete(name);
    }
  }
}
