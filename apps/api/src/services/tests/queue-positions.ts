import type { TestType } from '@crucible/contracts';
import type { QueueSnapshot, QueuedCount, TestRow, TestsRepository } from '@crucible/db';
import { estimate } from './estimate.js';
import type { Capacity } from './estimate.js';

/**
 * When a batch's queue positions are counted afresh (DESIGN.md, "Queue position and ETA").
 */
export interface PositionOptions {
  /** Below this many queued tests, every batch counts afresh (exact). @defaultValue 100 */
  exactBelow?: number;
  /**
   * Beyond that, how long a count is reused before one is taken in the background; also how long
   * the running tests, means and capacity are. @defaultValue 1000
   */
  maxAgeMs?: number;
}

type Counts = Map<number, Map<TestType, number>>;

function add(to: Counts, priority: number, type: TestType, n: number): void {
  let byType = to.get(priority);
  if (!byType) to.set(priority, (byType = new Map()));
  byType.set(type, (byType.get(type) ?? 0) + n);
}

interface Base {
  /** Queued tests by priority, then type: the count plus the tests placed here since. */
  byPriority: Counts;
  total: number;
  takenAt: number;
}

/** The rest of an ETA: the running tests, the mean durations and the live workers' capacity. */
interface Rest extends Omit<QueueSnapshot, 'aheadByType'> {
  capacity: Capacity;
  takenAt: number;
}

export interface Placement {
  queuePosition: number | null;
  etaSeconds: number | null;
}

/**
 * Queue positions and ETAs of accepted batches without a count per request: one grouped count of
 * the queued tests by priority and type, from which every row of a batch gets its position
 * (all queued tests of a higher priority and, of the same priority, the ones counted or placed
 * before it are ahead). While fewer than `exactBelow` tests are queued, every batch counts afresh;
 * beyond, a count is reused for `maxAgeMs` plus the tests this process placed since, and then
 * replaced by one taken in the background (an approximation of at most that long's arrivals and
 * departures in a queue that long). Batches are placed one at a time, so positions are distinct.
 */
export class QueuePositions {
  readonly #tests: TestsRepository;
  readonly #capacity: () => Promise<Capacity>;
  readonly #exactBelow: number;
  readonly #maxAgeMs: number;
  #base: Base | undefined;
  #rest: Rest | undefined;
  #restLoading: Promise<void> | undefined;
  /** Being inserted or inserted, not yet placed here: a count leaves them out, their batch adds them. */
  readonly #unplaced = new Set<string>();
  /** While a background count runs: what was placed since it started (it may not see them). */
  #sinceRecount: Counts | undefined;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(tests: TestsRepository, capacity: () => Promise<Capacity>, options: PositionOptions = {}) {
    this.#tests = tests;
    this.#capacity = capacity;
    this.#exactBelow = options.exactBelow ?? 100;
    this.#maxAgeMs = options.maxAgeMs ?? 1000;
  }

  /**
   * Tests about to be inserted: until placed (or let go) they stay out of every count, even once
   * committed, since their own batch places them.
   */
  reserve(testIds: string[]): void {
    for (const id of testIds) this.#unplaced.add(id);
  }

  /** Reserved tests that were not created after all. */
  release(testIds: string[]): void {
    for (const id of testIds) this.#unplaced.delete(id);
  }

  /** Positions of a batch's rows (in their id order), after every batch placed before it. */
  place(rows: TestRow[]): Promise<Placement[]> {
    const placed = this.#chain.then(() => this.#place(rows));
    this.#chain = placed.catch(() => undefined);
    return placed;
  }

  async #place(rows: TestRow[]): Promise<Placement[]> {
    try {
      const rest = this.#freshRest();
      if (!this.#base || this.#base.total < this.#exactBelow) {
        [this.#base] = await Promise.all([this.#count(), rest]);
      } else if (Date.now() - this.#base.takenAt >= this.#maxAgeMs && !this.#sinceRecount) {
        this.#recountInBackground();
      }
      await rest;
      return this.#positions(rows, this.#base, this.#rest!);
    } finally {
      for (const r of rows) this.#unplaced.delete(r.test_id);
    }
  }

  /**
   * Reads the running tests, means and capacity when the last read is older than `maxAgeMs`:
   * waited for the first time only, afterwards in the background.
   */
  #freshRest(): Promise<void> {
    if (this.#rest && Date.now() - this.#rest.takenAt < this.#maxAgeMs) return Promise.resolve();
    if (!this.#restLoading) {
      const takenAt = Date.now();
      this.#restLoading = Promise.all([this.#tests.runningAndMeans(), this.#capacity()])
        .then(([rest, capacity]) => {
          this.#rest = { ...rest, capacity, takenAt };
        })
        .finally(() => {
          this.#restLoading = undefined;
        });
    }
    if (this.#rest) {
      this.#restLoading.catch(() => {
        // Keep the last; try again after another maxAgeMs.
        if (this.#rest) this.#rest.takenAt = Date.now();
      });
      return Promise.resolve();
    }
    return this.#restLoading;
  }

  #positions(rows: TestRow[], b: Base, r: Rest): Placement[] {
    const ageSec = (Date.now() - r.takenAt) / 1000;
    const running = r.running.map((r) => ({ testType: r.testType, elapsedSec: r.elapsedSec + ageSec }));
    const batch: Counts = new Map();
    for (const r of rows) add(batch, r.priority, r.test_type, 1);
    const sameBefore: Counts = new Map();
    const placed = rows.map((row) => {
      const aheadByType: Partial<Record<TestType, number>> = {};
      const sum = (counts: Counts, include: (p: number) => boolean) => {
        for (const [p, byType] of counts) {
          if (!include(p)) continue;
          for (const [type, n] of byType) aheadByType[type] = (aheadByType[type] ?? 0) + n;
        }
      };
      sum(b.byPriority, (p) => p >= row.priority);
      sum(batch, (p) => p > row.priority);
      sum(sameBefore, (p) => p === row.priority);
      add(sameBefore, row.priority, row.test_type, 1);
      return estimate(row, { aheadByType, running, meanSecByType: r.meanSecByType }, r.capacity);
    });
    // Later batches find these ahead of them.
    for (const r of rows) {
      add(b.byPriority, r.priority, r.test_type, 1);
      if (this.#sinceRecount) add(this.#sinceRecount, r.priority, r.test_type, 1);
    }
    b.total += rows.length;
    return placed;
  }

  async #count(): Promise<Base> {
    const takenAt = Date.now();
    const counts: QueuedCount[] = await this.#tests.queuedExcept([...this.#unplaced]);
    const byPriority: Counts = new Map();
    let total = 0;
    for (const c of counts) {
      add(byPriority, c.priority, c.testType, c.n);
      total += c.n;
    }
    return { byPriority, total, takenAt };
  }

  #recountInBackground(): void {
    const since: Counts = new Map();
    this.#sinceRecount = since;
    this.#count()
      .then((fresh) => {
        // What was placed while the count ran may be missing from it: add it (at worst a batch
        // or two counted twice until the next count).
        for (const [p, byType] of since) {
          for (const [type, n] of byType) {
            add(fresh.byPriority, p, type, n);
            fresh.total += n;
          }
        }
        this.#base = fresh;
      })
      .catch(() => {
        // Keep the old count; try again after another maxAgeMs.
        if (this.#base) this.#base.takenAt = Date.now();
      })
      .finally(() => {
        this.#sinceRecount = undefined;
      });
  }
}
