import { Channels, Events, Priority, createMessage } from '@crucible/contracts';
import type { EventLog, QueueCounts } from '@crucible/contracts';
import type { WorkerRegistry } from './worker-registry.js';

/** What {@link readQueueCounts} needs of a BullMQ `Queue`. */
export interface JobCounter {
  getJobCounts(
    ...types: ('waiting' | 'prioritized' | 'active' | 'delayed')[]
  ): Promise<Record<string, number>>;
}

/**
 * The queue's counts for users. `waitingTurn` counts the tests that wait in PostgreSQL for the
 * dispatcher to release them (DESIGN.md, "Fair scheduling"): to a user they are waiting too.
 */
export async function readQueueCounts(
  queue: JobCounter,
  registry: WorkerRegistry,
  waitingTurn: () => Promise<number> = async () => 0,
): Promise<QueueCounts> {
  const [counts, workers, turn] = await Promise.all([
    queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed'),
    registry.live(),
    waitingTurn(),
  ]);
  return {
    // A job with a priority waits in BullMQ's `prioritized` set; to a user it is just waiting.
    waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0) + turn,
    active: counts.active ?? 0,
    delayed: counts.delayed ?? 0,
    workers: workers.length,
  };
}

/**
 * Publishes `queue:status:updated` on `queue-updates` after changes, at most once per
 * `minIntervalMs` per process (a burst of changes becomes one message with the latest counts).
 * Counts only: the channel is readable by every signed-in user.
 */
export class QueueStatusPublisher {
  readonly #read: () => Promise<QueueCounts>;
  readonly #eventLog: EventLog;
  readonly #minIntervalMs: number;
  readonly #onError: (err: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #last = 0;
  #pending = false;
  #closed = false;

  /** @param minIntervalMs @defaultValue 1000 */
  constructor(options: {
    read: () => Promise<QueueCounts>;
    eventLog: EventLog;
    onError: (err: unknown) => void;
    minIntervalMs?: number;
  }) {
    this.#read = options.read;
    this.#eventLog = options.eventLog;
    this.#onError = options.onError;
    this.#minIntervalMs = options.minIntervalMs ?? 1_000;
  }

  /** Something changed: publish soon. */
  notify(): void {
    this.#pending = true;
    if (this.#timer || this.#closed) return;
    const wait = Math.max(0, this.#last + this.#minIntervalMs - Date.now());
    this.#timer = setTimeout(() => void this.#publish(), wait);
    this.#timer.unref();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  async #publish(): Promise<void> {
    this.#last = Date.now();
    this.#pending = false;
    try {
      const counts = await this.#read();
      if (this.#closed) return;
      await this.#eventLog.publish(
        createMessage({
          event: Events.QUEUE_STATUS_UPDATED,
          channel: Channels.QUEUE_UPDATES,
          data: counts,
          priority: Priority.LOW,
        }),
      );
    } catch (err) {
      this.#onError(err);
    } finally {
      this.#timer = undefined;
      // Changes made while this one was being published get their own message.
      if (this.#pending) this.notify();
    }
  }
}
