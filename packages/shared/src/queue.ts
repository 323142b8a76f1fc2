import type { Redis } from 'ioredis';
import { TestCatalog, toBullPriority } from './catalog.js';
import { Channels } from './channels.js';
import { createMessage } from './envelope.js';
import type { EventLog } from './event-log.js';
import { Events, Priority } from './events.js';
import type { TestJobData, TestType } from './catalog.js';

/**
 * The BullMQ job id of a test's run: the test id for the first run, `{testId}-r{run}` for manual
 * re-runs (BullMQ ignores an add whose id exists, and the old run's job may still be held).
 * Adding the same run twice is a no-op, which makes re-enqueueing idempotent.
 */
export function jobIdOf(testId: string, run: number): string {
  return run === 0 ? testId : `${testId}-r${run}`;
}

/** Completed and failed jobs kept in Redis; PostgreSQL keeps every test until cleanup. */
export const JOB_RETENTION = {
  completed: { count: 100, age: 24 * 3600 },
  failed: { count: 500, age: 7 * 24 * 3600 },
} as const;

/** First retry delay; each further one doubles (BullMQ exponential backoff). */
export const RETRY_BACKOFF_MS = 2_000;

/** The job options of every test job: attempts from the catalogue, our priority mapped onto BullMQ's. */
export function testJobOptions(testType: TestType, testId: string, run: number, priority: number) {
  return {
    jobId: jobIdOf(testId, run),
    priority: toBullPriority(priority),
    attempts: TestCatalog[testType].attempts,
    backoff: { type: 'exponential', delay: RETRY_BACKOFF_MS },
    removeOnComplete: JOB_RETENTION.completed,
    removeOnFail: JOB_RETENTION.failed,
  };
}

/** The job data of a test's run. */
export function testJobData(row: {
  test_id: string;
  test_type: TestType;
  url: string;
  config: Record<string, unknown>;
  user_id: string | null;
  run: number;
}): TestJobData {
  return {
    testId: row.test_id,
    testType: row.test_type,
    url: row.url,
    config: row.config,
    userId: row.user_id,
    run: row.run,
  };
}

/** Pub/sub topic on which the API asks every worker process to abort a running test. */
export const CANCEL_TOPIC = 'control:cancel';

export interface CancelMessage {
  testId: string;
  /** The job of the run being cancelled ({@link jobIdOf}). */
  jobId: string;
}

/** A worker process as it announces itself. */
export interface WorkerPresence {
  id: string;
  /** Tests it runs at once. */
  concurrency: number;
  /** Tests it is running right now. */
  active: string[];
}

/**
 * Where worker presence and the reconciler's pass lock live: a Redis hash per deployment
 * (distributed mode) or this process's memory (embedded mode, one process).
 */
export interface PresenceStore {
  put(id: string, value: string): Promise<void>;
  remove(...ids: string[]): Promise<void>;
  all(): Promise<Record<string, string>>;
  /** Takes the lock `name` for `ms` unless someone holds it; true when this caller got it. */
  lock(name: string, holder: string, ms: number): Promise<boolean>;
}

export class RedisPresenceStore implements PresenceStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  async put(id: string, value: string): Promise<void> {
    await this.#redis.hset(`${this.#prefix}:workers`, id, value);
  }

  async remove(...ids: string[]): Promise<void> {
    if (ids.length > 0) await this.#redis.hdel(`${this.#prefix}:workers`, ...ids);
  }

  all(): Promise<Record<string, string>> {
    return this.#redis.hgetall(`${this.#prefix}:workers`);
  }

  async lock(name: string, holder: string, ms: number): Promise<boolean> {
    return (await this.#redis.set(`${this.#prefix}:lock:${name}`, holder, 'PX', ms, 'NX')) === 'OK';
  }
}

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

  /** The live workers; dead entries are dropped on the way. */
  async live(): Promise<WorkerPresence[]> {
    const entries = await this.#store.all();
    const now = Date.now();
    const live: WorkerPresence[] = [];
    const dead: string[] = [];
    for (const [id, raw] of Object.entries(entries)) {
      const p = JSON.parse(raw) as WorkerPresence & { seenAt: number };
      if (now - p.seenAt > this.#ttlMs) dead.push(id);
      else live.push({ id: p.id, concurrency: p.concurrency, active: p.active });
    }
    await this.#store.remove(...dead);
    return live;
  }
}

/** Global queue counts: the data of `queue:status:updated` and part of `GET /api/test/queue/status`. */
export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  workers: number;
}

/** What {@link readQueueCounts} needs of a BullMQ `Queue`. */
export interface JobCounter {
  getJobCounts(
    ...types: ('waiting' | 'prioritized' | 'active' | 'delayed')[]
  ): Promise<Record<string, number>>;
}

export async function readQueueCounts(queue: JobCounter, registry: WorkerRegistry): Promise<QueueCounts> {
  const [counts, workers] = await Promise.all([
    queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed'),
    registry.live(),
  ]);
  return {
    // A job with a priority waits in BullMQ's `prioritized` set; to a user it is just waiting.
    waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
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
