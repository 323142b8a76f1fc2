import type { StressConnectionStore, StressReservation } from '@crucible/contracts';

/** One process: embedded mode. Its holds die with it, so they need no lease. */
export class MemoryStressConnectionStore implements StressConnectionStore {
  readonly #holds = new Map<string, Map<string, number>>();
  readonly #waiting = new Map<string, { reason: string; until: number }>();

  async reserve(owner: string, testId: string, connections: number, max: number): Promise<StressReservation> {
    let holds = this.#holds.get(owner);
    if (!holds) this.#holds.set(owner, (holds = new Map()));
    let inUse = 0;
    for (const [id, n] of holds) if (id !== testId) inUse += n;
    if (inUse + connections > max) return { granted: false, inUse };
    holds.set(testId, connections);
    this.#waiting.delete(testId);
    return { granted: true, inUse };
  }

  async release(owner: string, testId: string): Promise<void> {
    const holds = this.#holds.get(owner);
    holds?.delete(testId);
    if (holds?.size === 0) this.#holds.delete(owner);
  }

  async setWaiting(testId: string, reason: string, ttlMs: number): Promise<boolean> {
    const known = this.#current(testId) !== undefined;
    this.#waiting.set(testId, { reason, until: Date.now() + ttlMs });
    return !known;
  }

  async waiting(testIds: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const id of testIds) {
      const reason = this.#current(id);
      if (reason !== undefined) out.set(id, reason);
    }
    return out;
  }

  async close(): Promise<void> {}

  #current(testId: string): string | undefined {
    const note = this.#waiting.get(testId);
    if (note && note.until <= Date.now()) this.#waiting.delete(testId);
    return note && note.until > Date.now() ? note.reason : undefined;
  }
}
