/**
 * Records when credentials (API keys, sessions) were last used without putting a write on any
 * request's path: `record` only notes the time in memory, at most once per `minIntervalMs` per
 * id, and the notes are written in one statement `flushDelayMs` after the first of a batch.
 * A process that dies loses at most that batch: "last used" is for people, to a minute.
 */
export class UseRecorder {
  readonly #write: (uses: ReadonlyMap<string, Date>) => Promise<void>;
  readonly #minIntervalMs: number;
  readonly #flushDelayMs: number;
  readonly #now: () => number;
  readonly #onError: (err: unknown) => void;
  /** When each id was last noted; entries older than `minIntervalMs` are dropped on flush. */
  readonly #noted = new Map<string, number>();
  #pending = new Map<string, Date>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(
    write: (uses: ReadonlyMap<string, Date>) => Promise<void>,
    options: {
      /** A use within this long of the last noted one of the same id is not noted. @defaultValue 60000 */
      minIntervalMs?: number;
      /** How long notes gather before they are written together. @defaultValue 1000 */
      flushDelayMs?: number;
      /** Clock, for tests. @defaultValue Date.now */
      now?: () => number;
      /** A failed write; its notes are lost (a later use, a minute on, notes again). @defaultValue ignore */
      onError?: (err: unknown) => void;
    } = {},
  ) {
    this.#write = write;
    this.#minIntervalMs = options.minIntervalMs ?? 60_000;
    this.#flushDelayMs = options.flushDelayMs ?? 1_000;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => {});
  }

  /** Notes a use of `id` now; synchronous and without I/O. */
  record(id: string): void {
    const now = this.#now();
    const last = this.#noted.get(id);
    if (last !== undefined && now - last < this.#minIntervalMs) return;
    this.#noted.set(id, now);
    this.#pending.set(id, new Date(now));
    this.#timer ??= setTimeout(() => void this.flush(), this.#flushDelayMs).unref();
  }

  /** Writes what has been noted so far; resolves when it is written (or has failed). */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const uses = this.#pending;
    this.#pending = new Map();
    const cutoff = this.#now() - this.#minIntervalMs;
    for (const [id, at] of this.#noted) if (at <= cutoff) this.#noted.delete(id);
    if (uses.size === 0) return this.#flushing;
    // One write at a time, in order: a later batch never lands before an earlier one.
    this.#flushing = this.#flushing.then(() => this.#write(uses)).catch(this.#onError);
    return this.#flushing;
  }
}
