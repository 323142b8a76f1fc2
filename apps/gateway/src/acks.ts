import type { AckStore, UnackedMessage } from '@crucible/contracts';

/**
 * Acks are per user (DESIGN.md): a CRITICAL/HIGH message to a user with several sockets on this
 * gateway needs recording once, not once per socket, and so does its acknowledgement. This
 * gathers what one turn of the event loop asked for and writes each (user, message) pair once:
 * expectations first, then acknowledgements, so an ack is never overtaken by its expectation.
 */
export class CoalescingAckStore implements AckStore {
  readonly #store: AckStore;
  readonly #onError: (err: unknown) => void;
  #expects = new Map<string, Map<string, UnackedMessage>>();
  #acks = new Map<string, Set<string>>();
  #flushing: Promise<void> | undefined;

  /** `onError` hears of a flush that failed (`record` and `recordAck` return nothing to catch). */
  constructor(store: AckStore, onError: (err: unknown) => void = () => {}) {
    this.#store = store;
    this.#onError = onError;
  }

  /**
   * `expect` for the hot path (every delivery of a CRITICAL/HIGH message): nothing to await and no
   * promise made per call; a failed write goes to `onError`, once per flush.
   */
  record(userId: string, message: UnackedMessage): void {
    let messages = this.#expects.get(userId);
    if (!messages) this.#expects.set(userId, (messages = new Map()));
    messages.set(message.id, message);
    if (!this.#flushing) void this.#schedule();
  }

  /** `ack` for the hot path (every ack frame), as `record` is for `expect`. */
  recordAck(userId: string, id: string): void {
    let ids = this.#acks.get(userId);
    if (!ids) this.#acks.set(userId, (ids = new Set()));
    ids.add(id);
    if (!this.#flushing) void this.#schedule();
  }

  expect(userId: string, message: UnackedMessage): Promise<void> {
    this.record(userId, message);
    return this.#schedule();
  }

  ack(userId: string, id: string): Promise<void> {
    this.recordAck(userId, id);
    return this.#schedule();
  }

  async unacked(userId: string, channel: string, epoch: string, uptoOffset: number) {
    // What this gateway was told before must be written before it is read.
    await this.#flushing;
    return this.#store.unacked(userId, channel, epoch, uptoOffset);
  }

  #schedule(): Promise<void> {
    if (!this.#flushing) {
      this.#flushing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#flush());
      // Told once per flush, whoever else awaits it.
      this.#flushing.catch(this.#onError);
    }
    return this.#flushing;
  }

  async #flush(): Promise<void> {
    const expects = this.#expects;
    const acks = this.#acks;
    this.#expects = new Map();
    this.#acks = new Map();
    this.#flushing = undefined;
    if (this.#store.writeAll) return this.#store.writeAll(expects, acks);
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
