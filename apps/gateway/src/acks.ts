import type { AckStore, UnackedMessage } from '@crucible/shared';

/**
 * Acks are per user (DESIGN.md): a CRITICAL/HIGH message to a user with several sockets on this
 * gateway needs recording once, not once per socket, and so does its acknowledgement. This
 * gathers what one turn of the event loop asked for and writes each (user, message) pair once:
 * expectations first, then acknowledgements, so an ack is never overtaken by its expectation.
 */
export class CoalescingAckStore implements AckStore {
  readonly #store: AckStore;
  #expects = new Map<string, Map<string, UnackedMessage>>();
  #acks = new Map<string, Set<string>>();
  #flushing: Promise<void> | undefined;

  constructor(store: AckStore) {
    this.#store = store;
  }

  expect(userId: string, message: UnackedMessage): Promise<void> {
    let messages = this.#expects.get(userId);
    if (!messages) this.#expects.set(userId, (messages = new Map()));
    messages.set(message.id, message);
    return this.#schedule();
  }

  ack(userId: string, id: string): Promise<void> {
    let ids = this.#acks.get(userId);
    if (!ids) this.#acks.set(userId, (ids = new Set()));
    ids.add(id);
    return this.#schedule();
  }

  async unacked(userId: string, channel: string, epoch: string, uptoOffset: number) {
    // What this gateway was told before must be written before it is read.
    await this.#flushing;
    return this.#store.unacked(userId, channel, epoch, uptoOffset);
  }

  #schedule(): Promise<void> {
    this.#flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#flush());
    return this.#flushing;
  }

  async #flush(): Promise<void> {
    const expects = this.#expects;
    const acks = this.#acks;
    this.#expects = new Map();
    this.#acks = new Map();
    this.#flushing = undefined;
    const written: Promise<void>[] = [];
    for (const [userId, messages] of expects) {
      for (const message of messages.values()) written.push(this.#store.expect(userId, message));
    }
    // Issued after the expectations on the same connection, so Redis applies them after too.
    for (const [userId, ids] of acks) for (const id of ids) written.push(this.#store.ack(userId, id));
    const results = await Promise.allSettled(written);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
