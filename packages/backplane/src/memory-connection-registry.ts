import type { ConnectionRegistry } from '@crucible/contracts';

/** One process: embedded mode, or tests. */
export class MemoryConnectionRegistry implements ConnectionRegistry {
  readonly #users = new Map<string, Set<string>>();

  async acquire(userId: string, connectionId: string, max: number): Promise<number | null> {
    let set = this.#users.get(userId);
    if (!set) this.#users.set(userId, (set = new Set()));
    if (set.size >= max) return null;
    set.add(connectionId);
    return set.size;
  }

  async release(userId: string, connectionId: string): Promise<number> {
    const set = this.#users.get(userId);
    set?.delete(connectionId);
    if (set?.size === 0) this.#users.delete(userId);
    return set?.size ?? 0;
  }

  /** One process: its sockets die with it, and so does anyone who would be told. */
  onExpired(): void {}

  async close(): Promise<void> {}
}
