import type { Logger } from 'pino';
import type { Fence, TestAttemptsRepository } from '@crucible/db';
import { FenceLost } from './aborts.js';
import type { AttemptEvents } from './attempt-events.js';
import type { Persist } from './persist.js';

export interface AttemptProgressOptions {
  fence: Fence;
  attempts: Pick<TestAttemptsRepository, 'setProgress'>;
  persist: Persist;
  /** The attempt's controller: aborted with `FenceLost` when a write finds the fence gone. */
  controller: AbortController;
  events: AttemptEvents;
  log: Logger;
  /** Progress is written to the row at most this often (0: every report). */
  writeIntervalMs: number;
  now: () => number;
  /** When progress was last written: the start of the attempt wrote 0. */
  writtenAt: number;
}

/**
 * An attempt's progress: every report goes out live at once, while its row is written at most once
 * per interval — the latest report in between is written when the interval is up, unless the result
 * (which sets 100) is stored first. Subscribers draw a bar, so it never moves backwards or reaches
 * 100 before the result is stored.
 */
export class AttemptProgress {
  readonly #o: AttemptProgressOptions;
  #writtenAt: number;
  #last = 0;
  #timer: NodeJS.Timeout | undefined;
  #write: Promise<void> | undefined;

  constructor(options: AttemptProgressOptions) {
    this.#o = options;
    this.#writtenAt = options.writtenAt;
  }

  /** The engine's `progress` reporter. */
  readonly report = async (pct: number, stage: string, data: object = {}): Promise<void> => {
    const { controller, now, writeIntervalMs } = this.#o;
    if (controller.signal.aborted) return;
    const progress = Math.max(this.#last, Math.min(99, Math.round(pct)));
    this.#last = progress;
    if (!this.#write && now() - this.#writtenAt >= writeIntervalMs) {
      // Due: written before it goes out, and the engine waits for it (a lost fence stops it).
      clearTimeout(this.#timer);
      this.#timer = undefined;
      if (!(await this.#store(progress))) return;
    } else {
      this.#timer ??= setTimeout(() => this.#flush(), Math.max(0, this.#writtenAt + writeIntervalMs - now()));
    }
    await this.#o.events.progress(progress, stage, data);
  };

  /** Stops the pending write and waits for one under way, which lands (or fails its fence) first. */
  async settle(): Promise<void> {
    clearTimeout(this.#timer);
    await this.#write;
  }

  /** Stores `progress`; false (and the attempt aborted) when the fence no longer holds. */
  async #store(progress: number): Promise<boolean> {
    const { controller, persist, attempts, fence } = this.#o;
    this.#writtenAt = this.#o.now();
    if (controller.signal.aborted) return false;
    if (await persist(() => attempts.setProgress(fence, progress))) return true;
    controller.abort(new FenceLost());
    return false;
  }

  /** Writes the latest progress in the background, after any write still under way. */
  #flush(): void {
    this.#timer = undefined;
    const previous = this.#write;
    const write: Promise<void> = (async () => {
      await previous;
      await this.#store(this.#last);
    })()
      .catch((err: unknown) => this.#o.log.warn({ err }, 'could not store progress; the test goes on'))
      .finally(() => {
        if (this.#write === write) this.#write = undefined;
      });
    this.#write = write;
  }
}
