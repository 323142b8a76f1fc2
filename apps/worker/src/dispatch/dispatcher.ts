import type { Logger } from 'pino';
import { DISPATCH_TOPIC, TestTypes, queueNameOf, testJobData, testJobOptions } from '@crucible/contracts';
import type { DispatchMessage, PubSub, TestQueueName } from '@crucible/contracts';
import type { JobCounter, TestQueue, WorkerRegistry } from '@crucible/backplane';
import type { TestDispatchRepository, TestRow } from '@crucible/db';
import { pickFair } from './fair-pick.js';

export interface DispatcherDeps {
  lists: Pick<TestDispatchRepository, 'waitingLists' | 'claim' | 'unclaim'>;
  /** The queue this dispatcher fills (one per queue a worker consumes): its tests, its slots. */
  queueName: TestQueueName;
  queue: Pick<TestQueue, 'addBulk'> & JobCounter;
  registry: Pick<WorkerRegistry, 'live'>;
  pubsub: PubSub;
  logger: Logger;
  /** This process's own slots on the queue: counted even before its first heartbeat is read back. */
  concurrency: number;
  /** How often a pass runs without being asked (slots freed elsewhere, a lost wake-up). @defaultValue 1 s */
  intervalMs?: number;
  /**
   * A test not announced to this dispatcher waits this long before release, so that its API's
   * `queue:job:added` goes out first. @defaultValue 2 s
   */
  announceGraceMs?: number;
  /** Tests a workspace may have in flight at once (quotas). @defaultValue no cap */
  maxInFlight?: (workspaceId: string | null) => number;
  /** Called after a pass released tests. */
  onReleased?: (rows: TestRow[]) => void;
}

export interface Dispatcher {
  /** Asks for a pass soon (a slot freed, tests arrived); passes never overlap within a process. */
  nudge(): void;
  /** Runs a pass now (after the one under way); resolves with how many tests it released. */
  pass(): Promise<number>;
  /** Starts listening for the API's wake-ups and the periodic pass. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Announced ids are kept this long: a wake-up whose tests another dispatcher released is forgotten. */
const ANNOUNCED_TTL_MS = 30_000;

/**
 * Releases waiting tests into the BullMQ queue, only as worker slots free up, workspaces in turn
 * (`pickFair`): free = live workers' slots − jobs waiting or active in the queue. A test is claimed
 * in PostgreSQL (`dispatched_at`) before its job is added; if the add fails it is put back, and if
 * this process dies in between, the reconciler adds the job of a released row that has none. Any
 * number of dispatchers may run (one per worker process): a row is claimed by one of them only,
 * and at worst a few more tests than free slots wait in the queue.
 */
export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const log = deps.logger.child({ component: 'dispatcher', queue: deps.queueName });
  const types = Object.values(TestTypes).filter((type) => queueNameOf(type) === deps.queueName);
  const announced = new Map<string, number>();
  let running: Promise<number> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  function rememberAnnounced(payload: string): void {
    let message: DispatchMessage;
    try {
      message = JSON.parse(payload) as DispatchMessage;
    } catch {
      log.warn({ payload }, 'ignored a malformed dispatch message');
      return;
    }
    const until = Date.now() + ANNOUNCED_TTL_MS;
    for (const id of message.testIds ?? []) announced.set(id, until);
    dispatcher.nudge();
  }

  async function freeSlots(): Promise<number> {
    const [workers, counts] = await Promise.all([
      deps.registry.live(),
      deps.queue.getJobCounts('waiting', 'prioritized', 'active'),
    ]);
    const capacity = Math.max(
      deps.concurrency,
      workers.reduce((sum, w) => sum + (w.slots?.[deps.queueName] ?? 0), 0),
    );
    const taken = (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.active ?? 0);
    return capacity - taken;
  }

  async function passOnce(): Promise<number> {
    const free = await freeSlots();
    if (free <= 0) return 0;
    const now = Date.now();
    for (const [id, until] of announced) if (until < now) announced.delete(id);
    const lists = await deps.lists.waitingLists(
      free,
      deps.announceGraceMs ?? 2_000,
      [...announced.keys()],
      types,
    );
    const picked = pickFair(lists, free, deps.maxInFlight);
    const rows = await deps.lists.claim(picked.map((r) => r.test_id));
    if (rows.length === 0) return 0;
    // Claimed in the order picked: the queue runs equal priorities oldest first.
    const order = new Map(picked.map((r, i) => [r.test_id, i]));
    rows.sort((x, y) => order.get(x.test_id)! - order.get(y.test_id)!);
    try {
      await deps.queue.addBulk(
        rows.map((row) => ({
          name: row.test_type,
          data: testJobData(row),
          opts: testJobOptions(row.test_type, row.test_id, row.run, row.priority),
        })),
      );
    } catch (err) {
      await deps.lists
        .unclaim(rows.map((r) => r.test_id))
        .catch((error: unknown) =>
          log.warn({ err: error }, 'could not put tests back on their lists; the reconciler enqueues them'),
        );
      throw err;
    }
    for (const row of rows) announced.delete(row.test_id);
    deps.onReleased?.(rows);
    return rows.length;
  }

  const dispatcher: Dispatcher = {
    nudge() {
      dispatcher.pass().catch((err: unknown) => log.warn({ err }, 'dispatch pass failed'));
    },
    pass() {
      if (closed) return Promise.resolve(0);
      if (running) {
        // One more pass after the current one sees what changed meanwhile.
        again = true;
        return running;
      }
      running = (async () => {
        let released = 0;
        try {
          do {
            again = false;
            released += await passOnce();
          } while (again && !closed);
        } finally {
          running = undefined;
        }
        return released;
      })();
      return running;
    },
    async start() {
      if (closed) return;
      await deps.pubsub.subscribe(DISPATCH_TOPIC, rememberAnnounced);
      if (closed) return void (await deps.pubsub.unsubscribe(DISPATCH_TOPIC, rememberAnnounced));
      timer = setInterval(() => dispatcher.nudge(), deps.intervalMs ?? 1_000);
      timer.unref();
      dispatcher.nudge();
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await deps.pubsub.unsubscribe(DISPATCH_TOPIC, rememberAnnounced).catch(() => undefined);
      await running?.catch(() => undefined);
    },
  };
  return dispatcher;
}
