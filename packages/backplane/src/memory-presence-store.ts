import type { PresenceStore } from '@crucible/contracts';

/** Worker presence and the pass lock in this process (embedded mode: one process). */
export class MemoryPresenceStore implements PresenceStore {
  readonly #entries = new Map<string, string>();
  readonly #locks = new Map<string, number>();

  async put(id: string, value: string): Promise<void> {
    this.#entries.set(id, value);
  }

  async remove(...ids: string[]): Promise<void> {
    for (const id of ids) this.#entries.delete(id);
  }

  async all(): Promise<Record<string, string>> {
    return Object.fromEntries(this.#entries);
  }

  async lock(name: string, _holder: string, ms: number): Promise<boolean> {
    const now = Date.now();
    if ((this.#locks.get(name) ?? 0) > now) return false;
    this.#locks.set(name, now + ms);
    return true;
  }
}
