import type { PresenceStore, WorkerPresence } from '@crucible/contracts';

/**
 * Live workers: each process rewrites its entry every few seconds; an entry older than `ttlMs` is
 * a dead worker's and is dropped when read.
 */
export class WorkerRegistry {
  readonly #store: PresenceStore;
  readonly #ttlMs: number;

  /** @param ttlMs how long an entry counts as live after its last beat. @defaultValue 30 s */
  constructor(store: PresenceStore, ttlMs = 30_000) {
    this.#store = store;
    this.#ttlMs = ttlMs;
  }

  async beat(presence: WorkerPresence): Promise<void> {
    await this.#store.put(presence.id, JSON.stringify({ ...presence, seenAt: Date.now() }));
  }

  async leave(id: string): Promise<void> {
    await this.#store.remove(id);
  }

  /**
   * How many workers are live, and when any worker last beat (ms since the epoch; null: no entry
   * left, live or dead). Reads without dropping anything: what the system alerts' worker check asks.
   */
  async silence(): Promise<{ live: number; lastBeatAt: number | null }> {
    const now = Date.now();
    let live = 0;
    let lastBeatAt: number | null = null;
    for (const raw of Object.values(await this.#store.all())) {
      const { seenAt } = JSON.parse(raw) as { seenAt: number };
      if (now - seenAt <= this.#ttlMs) live++;
      lastBeatAt = Math.max(lastBeatAt ?? 0, seenAt);
    }
    return { live, lastBeatAt };
  }

  /** The live workers; dead entries are dropped on the way. */
  async live(): Promise<WorkerPresence[]> {
    const entries = await this.#store.all();
    const now = Date.now();
    const live: WorkerPresence[] = [];
    const dead: string[] = [];
    for (const [id, raw] of Object.entries(entries)) {
      const p = JSON.parse(raw) as WorkerPresence & { seenAt: number };
      if (now - p.seenAt > this.#ttlMs) dead.push(id);
      else
        live.push({
          id: p.id,
          concurrency: p.concurrency,
          active: p.active,
          slots: p.slots ?? { tests: p.concurrency },
        });
    }
    await this.#store.remove(...dead);
    return live;
  }
}
