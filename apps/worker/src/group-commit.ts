interface Entry<I, O> {
  item: I;
  key: string;
  resolve(value: O): void;
  reject(err: unknown): void;
}

export interface GroupCommitOptions<I, O> {
  /** Runs one batch; returns one result per item, in order. */
  run(items: I[]): Promise<O[]>;
  /** Items with one key never share a batch, nor run while another with it is under way. */
  key(item: I): string;
  /** Items per batch at most. @defaultValue 64 */
  maxBatch?: number;
  /** Batches under way at once. @defaultValue 2 */
  maxInFlight?: number;
}

/**
 * Group commit without a window: an item is written at once when a batch slot is free, and items
 * that arrive while every slot is busy go together in the next batch. An idle worker's writes wait
 * for nothing; a busy one's share statements (and commits). A failed batch fails each of its items
 * with the batch's error (each caller's own retry then submits it again).
 */
export class GroupCommit<I, O> {
  readonly #options: Required<GroupCommitOptions<I, O>>;
  #waiting: Entry<I, O>[] = [];
  readonly #busyKeys = new Set<string>();
  #inFlight = 0;

  constructor(options: GroupCommitOptions<I, O>) {
    this.#options = { maxBatch: 64, maxInFlight: 2, ...options };
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#waiting.push({ item, key: this.#options.key(item), resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#inFlight < this.#options.maxInFlight && this.#waiting.length > 0) {
      const batch: Entry<I, O>[] = [];
      const rest: Entry<I, O>[] = [];
      const keys = new Set<string>();
      for (const entry of this.#waiting) {
        if (batch.length < this.#options.maxBatch && !keys.has(entry.key) && !this.#busyKeys.has(entry.key)) {
          batch.push(entry);
          keys.add(entry.key);
        } else {
          rest.push(entry);
        }
      }
      // Everything waiting has a key already under way: it goes when that batch ends.
      if (batch.length === 0) return;
      this.#waiting = rest;
      this.#inFlight++;
      for (const key of keys) this.#busyKeys.add(key);
      void this.#flush(batch).finally(() => {
        this.#inFlight--;
        for (const key of keys) this.#busyKeys.delete(key);
        this.#pump();
      });
    }
  }

  async #flush(batch: Entry<I, O>[]): Promise<void> {
    try {
      const results = await this.#options.run(batch.map((e) => e.item));
      batch.forEach((entry, i) => entry.resolve(results[i]!));
    } catch (err) {
      for (const entry of batch) entry.reject(err);
    }
  }
}
