/** The outcome of one item of a batch: its value, or the error that only its caller sees. */
export type Settled<O> = { ok: true; value: O } | { ok: false; error: unknown };

export interface GroupCommitOptions<I = unknown> {
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
  /**
   * Items with one key never share a flush, nor start while a flush holding that key is under way
   * (e.g. two writes of one row, which must land in order). @defaultValue every item on its own
   */
  key?: (item: I) => string;
}

interface Entry<I, O> {
  item: I;
  key: string | undefined;
  resolve(value: O): void;
  reject(error: unknown): void;
}

/**
 * The classic group commit: an item that arrives while the committer is idle is flushed at once
 * (after `windowMs`); items that arrive while every flush slot is busy wait and go together in the
 * next one, so under load a flush carries everything that arrived during the previous one.
 * `flush` answers every item on its own (one item's error is that item's only); a flush that throws
 * fails each of its items with that error.
 */
export class GroupCommit<I, O> {
  readonly #flush: (items: I[]) => Promise<Settled<O>[]>;
  readonly #maxBatch: number;
  readonly #windowMs: number;
  readonly #maxInFlight: number;
  readonly #key: ((item: I) => string) | undefined;
  #pending: Entry<I, O>[] = [];
  readonly #busyKeys = new Set<string>();
  #inFlight = 0;
  #timer: NodeJS.Timeout | NodeJS.Immediate | undefined;

  constructor(flush: (items: I[]) => Promise<Settled<O>[]>, options: GroupCommitOptions<I> = {}) {
    this.#flush = flush;
    this.#maxBatch = Math.max(1, options.maxBatch ?? 200);
    this.#windowMs = Math.max(0, options.windowMs ?? 0);
    this.#maxInFlight = Math.max(1, options.maxInFlight ?? 4);
    this.#key = options.key;
  }

  /** For a writer whose batch succeeds or fails as a whole: one value per item, in order. */
  static allOrNothing<I, O>(write: (items: I[]) => Promise<O[]>): (items: I[]) => Promise<Settled<O>[]> {
    return async (items) => (await write(items)).map((value): Settled<O> => ({ ok: true, value }));
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#pending.push({ item, key: this.#key?.(item), resolve, reject });
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
      this.#start();
      return;
    }
    if (this.#timer) return;
    const go = () => {
      this.#timer = undefined;
      this.#start();
    };
    this.#timer = this.#windowMs > 0 ? setTimeout(go, this.#windowMs) : setImmediate(go);
  }

  #clearTimer(): void {
    if (!this.#timer) return;
    clearTimeout(this.#timer as NodeJS.Timeout);
    clearImmediate(this.#timer as NodeJS.Immediate);
    this.#timer = undefined;
  }

  /** Starts flushes while a slot is free and something waiting may go. */
  #start(): void {
    while (this.#inFlight < this.#maxInFlight && this.#pending.length > 0) {
      const batch: Entry<I, O>[] = [];
      const rest: Entry<I, O>[] = [];
      const keys = new Set<string>();
      for (const entry of this.#pending) {
        const free = entry.key === undefined || (!keys.has(entry.key) && !this.#busyKeys.has(entry.key));
        if (batch.length < this.#maxBatch && free) {
          batch.push(entry);
          if (entry.key !== undefined) keys.add(entry.key);
        } else rest.push(entry);
      }
      // Everything waiting has a key under way: it goes when that flush ends.
      if (batch.length === 0) return;
      this.#pending = rest;
      for (const key of keys) this.#busyKeys.add(key);
      void this.#run(batch, keys);
    }
  }

  async #run(batch: Entry<I, O>[], keys: Set<string>): Promise<void> {
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
      for (const key of keys) this.#busyKeys.delete(key);
      this.#schedule(true);
    }
  }
}
