import { LRUCache } from 'lru-cache';
import { globToRegExp } from '../glob.js';

/** One entry of the memory tier. Expiry is checked by the cache itself (cheaper than lru-cache's TTL). */
export interface MemoryEntry {
  value: unknown;
  /** Logical expiry (ms since epoch): fresh before it. */
  expiresAt: number;
  /** End of the grace period: stale but servable before it, gone after. */
  staleUntil: number;
  /** Tag index keys (`namespace::tag`) of the entry. */
  tags: string[] | undefined;
  /** A cached "not found" (negative caching). */
  negative: boolean;
}

/**
 * A size-bounded LRU (lru-cache) plus an index from tag to keys, so a tag invalidation arriving on
 * the bus drops exactly the entries carrying that tag without scanning the cache.
 */
export class MemoryTier {
  readonly #lru: LRUCache<string, MemoryEntry>;
  readonly #byTag = new Map<string, Set<string>>();
  evictions = 0;

  constructor(maxEntries: number) {
    this.#lru = new LRUCache<string, MemoryEntry>({
      max: maxEntries,
      dispose: (entry, key, reason) => {
        if (reason === 'evict') this.evictions++;
        if (entry.tags) this.#untag(key, entry.tags);
      },
    });
  }

  get size(): number {
    return this.#lru.size;
  }

  /** The entry, fresh or stale; an entry past its grace period is dropped and reported missing. */
  get(key: string, now: number): MemoryEntry | undefined {
    const entry = this.#lru.get(key);
    if (entry !== undefined && entry.staleUntil <= now) {
      this.#lru.delete(key);
      return undefined;
    }
    return entry;
  }

  set(key: string, entry: MemoryEntry): void {
    this.#lru.set(key, entry);
    if (entry.tags) {
      for (const tag of entry.tags) {
        let keys = this.#byTag.get(tag);
        if (!keys) this.#byTag.set(tag, (keys = new Set()));
        keys.add(key);
      }
    }
  }

  delete(key: string): boolean {
    return this.#lru.delete(key);
  }

  deleteByTag(tag: string): number {
    const keys = this.#byTag.get(tag);
    if (!keys) return 0;
    let n = 0;
    for (const key of [...keys]) if (this.#lru.delete(key)) n++;
    this.#byTag.delete(tag);
    return n;
  }

  /** Drops every key matching a Redis glob pattern over full keys. */
  deleteMatching(pattern: string): number {
    const re = globToRegExp(pattern);
    let n = 0;
    for (const key of [...this.#lru.keys()]) if (re.test(key) && this.#lru.delete(key)) n++;
    return n;
  }

  clear(): void {
    this.#lru.clear();
    this.#byTag.clear();
  }

  #untag(key: string, tags: string[]): void {
    for (const tag of tags) {
      const keys = this.#byTag.get(tag);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) this.#byTag.delete(tag);
    }
  }
}
