import { randomUUID } from 'node:crypto';
import type { PubSub, PubSubHandler } from '@crucible/contracts';
import { CacheError, CacheErrorCode } from './errors.js';

/** Which memory entries other processes must drop. */
export type Invalidation =
  { type: 'keys'; keys: string[] } | { type: 'tags'; tags: string[] } | { type: 'pattern'; pattern: string };

/** On the wire: the invalidation and its sender (`s`), so a process ignores its own. */
type BusMessage = { s: string } & Invalidation;

/**
 * The cache's side of the deployment's `PubSub`: every cache of one prefix shares the topic
 * `cache:{prefix}`; a write or invalidation here is published, and what other processes publish
 * is handed to this process's memory tier (bentocache's bus, on our pub/sub).
 */
export class CacheBus {
  readonly #pubsub: PubSub;
  readonly #topic: string;
  readonly #id = randomUUID();
  readonly #throwOnError: boolean;
  readonly #onError: (err: CacheError) => void;
  #handler: PubSubHandler | undefined;
  /** Messages this process sent. */
  published = 0;
  /** Messages of other processes this process heard. */
  received = 0;

  constructor(options: {
    pubsub: PubSub;
    prefix: string;
    throwOnError: boolean;
    onError: (err: CacheError) => void;
  }) {
    this.#pubsub = options.pubsub;
    this.#topic = `cache:${options.prefix}`;
    this.#throwOnError = options.throwOnError;
    this.#onError = options.onError;
  }

  /** Subscribes; `invalidate` gets what other processes publish (a cache with a memory tier listens). */
  async listen(invalidate: (invalidation: Invalidation) => void): Promise<void> {
    const handler: PubSubHandler = (payload) => {
      let message: BusMessage;
      try {
        message = JSON.parse(payload) as BusMessage;
      } catch {
        return;
      }
      if (message.s === this.#id) return;
      this.received++;
      invalidate(message);
    };
    await this.#pubsub.subscribe(this.#topic, handler);
    this.#handler = handler;
  }

  async publish(invalidation: Invalidation): Promise<void> {
    try {
      await this.#pubsub.publish(this.#topic, JSON.stringify({ s: this.#id, ...invalidation }));
      this.published++;
    } catch (err) {
      const error = new CacheError(CacheErrorCode.BUS, 'cache bus publish failed', { cause: err });
      this.#onError(error);
      if (this.#throwOnError) throw error;
    }
  }

  /** Stops listening; the pub/sub itself belongs to the caller. */
  async close(): Promise<void> {
    const handler = this.#handler;
    if (!handler) return;
    this.#handler = undefined;
    await this.#pubsub.unsubscribe(this.#topic, handler).catch((err: unknown) => {
      this.#onError(new CacheError(CacheErrorCode.BUS, 'cache bus unsubscribe failed', { cause: err }));
    });
  }
}
