import type { PubSub, PubSubHandler } from '@crucible/contracts';

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
