import { LRUCache } from 'lru-cache';

/**
 * Where a namespace's tag lives: its name on memory entries and bus messages, and its set (the
 * entries carrying it) and version (bumped by each invalidation) in Redis.
 */
export class TagKeys {
  readonly #prefix: string;
  readonly #ns: string;

  constructor(prefix: string, ns: string) {
    this.#prefix = prefix;
    this.#ns = ns;
  }

  name(tag: string): string {
    return `${this.#ns}::${tag}`;
  }

  set(tag: string): string {
    return `${this.#prefix}#tags:${this.#ns}::${tag}`;
  }

  version(tag: string): string {
    return `${this.#prefix}#tagv:${this.#ns}::${tag}`;
  }
}

/**
 * This process's invalidation clock: each invalidation (own or from the bus) takes the next number
 * and records it per tag / key; a computation that started before stores nothing in memory. Redis
 * has its own guard, the tag versions (see `RedisTier.write`).
 */
export class InvalidationClock {
  #seq = 0;
  #patternSeq = 0;
  /** The newest number a forgotten name had: a name no longer remembered counts as that recent. */
  #floor = 0;
  readonly #seqOf = new LRUCache<string, number>({
    max: 10_000,
    dispose: (value, _key, reason) => {
      if (reason === 'evict') this.#floor = Math.max(this.#floor, value);
    },
  });

  /** Now, for a later {@link invalidatedSince}. */
  get seq(): number {
    return this.#seq;
  }

  /** Marks tags / keys as invalidated now. */
  bump(names: string[]): void {
    this.#seq++;
    for (const name of names) this.#seqOf.set(name, this.#seq);
  }

  /** A pattern was invalidated now: it may have matched anything. */
  bumpPattern(): void {
    this.#patternSeq = ++this.#seq;
  }

  invalidatedSince(names: string[], since: number): boolean {
    if (this.#patternSeq > since) return true;
    for (const name of names) {
      if ((this.#seqOf.get(name) ?? this.#floor) > since) return true;
    }
    return false;
  }
}
