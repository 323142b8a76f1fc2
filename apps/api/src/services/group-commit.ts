/** The outcome of one item of a batch: its value, or the error that only its caller sees. */
export type Settled<O> = { ok: true; value: O } | { ok: false; error: unknown };

export interface GroupCommitOptions {
  /** Items written by one flush at most. @defaultValue 200 */
  maxBatch?: number;
  /**
   * How long an item arriving at an idle committer waits for others before its flush starts.
   * 0 flushes on the next turn of the event loop (whatever arrived in the same turn goes along).
   * @defaultValue 0
   */
  windowMs?: number;
  /** Flushes running at once. @defaultValue 4 */
  maxInFlight?: number;
}

interface Entry<I, O> {
  item: I;
  resolve(value: O): void;
  reject(error: unknown): void;
}

/**
 * The classic group commit: an item that arrives while the committer is idle is flushed at once
 * (after `windowMs`); items that arrive while a flush is in flight wait for it and go together in
 * the next one, so under load a flush carries everything that arrived during the previous one.
 * `flush` answers every item on its own: one item's error is that item's only.
 */
export class GroupCommit<I, O> {
  readonly #flush: (items: I[]) => Promise<Settled<O>[]>;
  readonly #maxBatch: number;
  readonly #windowMs: number;
  readonly #maxInFlight: number;
  #pending: Entry<I, O>[] = [];
  #inFlight = 0;
  #timer: NodeJS.Timeout | NodeJS.Immediate | undefined;

  constructor(flush: (items: I[]) => Promise<Settled<O>[]>, options: GroupCommitOptions = {}) {
    this.#flush = flush;
    this.#maxBatch = Math.max(1, options.maxBatch ?? 200);
    this.#windowMs = Math.max(0, options.windowMs ?? 0);
    this.#maxInFlight = Math.max(1, options.maxInFlight ?? 4);
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      this.#schedule(false);
    });
  }

  /** Items waiting for a flush. */
  get pending(): number {
    return this.#pending.length;
  }

  #schedule(afterFlush: boolean): void {
    if (this.#pending.length === 0 || this.#inFlight >= this.#maxInFlight) return;
    // A full batch, or items that already waited for a flush in flight, go at once.
    if (this.#pending.length >= this.#maxBatch || afterFlush) {
      this.#clearTimer();
      void this.#run();
      return;
    }
    if (this.#timer) return;
    const go = () => {
      this.#timer = undefined;
      void this.#run();
    };
    this.#timer = this.#windowMs > 0 ? setTimeout(go, this.#windowMs) : setImmediate(go);
  }

  #clearTimer(): void {
    if (!this.#timer) return;
    clearTimeout(this.#timer as NodeJS.Timeout);
    clearImmediate(this.#timer as NodeJS.Immediate);
    this.#timer = undefined;
  }

  async #run(): Promise<void> {
    if (this.#pending.length === 0 || this.#inFlight >= this.#maxInFlight) return;
    const batch = this.#pending.splice(0, this.#maxBatch);
    this.#inFlight++;
    try {
      const results = await this.#flush(batch.map((e) => e.item));
      batch.forEach((entry, i) => {
        const r = results[i];
        if (!r) entry.reject(new Error('group commit: the flush gave no outcome for an item'));
        else if (r.ok) entry.resolve(r.value);
        else entry.reject(r.error);
      });
    } catch (err) {
      for (const entry of batch) entry.reject(err);
    } finally {
      this.#inFlight--;
      this.#schedule(true);
    }
  }
}
