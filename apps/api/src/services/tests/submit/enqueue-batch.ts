import type { QueueStatusPublisher } from '@crucible/backplane';
import {
  Channels,
  DISPATCH_TOPIC,
  Events,
  Priority,
  channelName,
  createMessage,
  queueJobAdded,
} from '@crucible/contracts';
import type { DispatchMessage, EventLog, PubSub } from '@crucible/contracts';
import type { TestRow } from '@crucible/db';
import type { Placement, QueuePositions } from '../queue-positions.js';
import type { Created, Outcomes } from './batch.js';

export interface EnqueueBatchDeps {
  eventLog: EventLog;
  /** Where the workers' dispatchers hear that tests were accepted (`DISPATCH_TOPIC`). */
  pubsub: Pick<PubSub, 'publish'>;
  positions: QueuePositions;
  status: Pick<QueueStatusPublisher, 'notify'>;
  /** See `TestsServiceDeps.eventLogOrderedWithQueue`. @defaultValue false */
  eventLogOrderedWithQueue?: boolean;
  log: { warn(obj: object, msg: string): void };
}

/** Tells the dispatchers that these tests were announced: their turn may come now. */
export function wakeDispatchers(
  pubsub: Pick<PubSub, 'publish'>,
  testIds: string[],
  log: { warn(obj: object, msg: string): void },
): Promise<void> {
  const message: DispatchMessage = { testIds };
  return pubsub
    .publish(DISPATCH_TOPIC, JSON.stringify(message))
    .catch((err: unknown) =>
      log.warn({ err }, 'could not wake the dispatchers; they release the tests within seconds'),
    );
}

/**
 * Places and announces a batch's created rows, answering each of them in `out`. The rows wait in
 * PostgreSQL for their turn: the workers' dispatchers release their jobs into the queue as slots
 * free up (DESIGN.md, "Fair scheduling"), so accepting needs nothing of the queue's store.
 */
export function createEnqueueBatch(deps: EnqueueBatchDeps) {
  const { eventLog, positions } = deps;

  /** The batch's `queue:job:added` events (and, through the wrapper, its owners' list invalidation). */
  function announce(rows: TestRow[], placed: Placement[]): Promise<unknown> {
    return eventLog
      .publishAll(
        rows.map((row, j) =>
          createMessage({
            event: Events.QUEUE_JOB_ADDED,
            channel: channelName(Channels.JOB_STATUS, { jobId: row.test_id }),
            data: queueJobAdded({
              testId: row.test_id,
              testType: row.test_type,
              priority: row.priority,
              queuePosition: placed[j]!.queuePosition,
            }),
            priority: Priority.HIGH,
            userId: row.user_id,
          }),
        ),
        { created: true },
      )
      .catch((err: unknown) => deps.log.warn({ err }, 'could not publish the accepted batch'));
  }

  return async function enqueueCreated(created: Created[], out: Outcomes): Promise<void> {
    const rows = created.map((c) => c.row);
    const placed = await positions.place(rows).catch((err: unknown) => {
      // The estimate is a nicety: the tests are accepted all the same.
      deps.log.warn({ err }, 'could not place the batch in the queue');
      return rows.map((): Placement => ({ queuePosition: null, etaSeconds: null }));
    });
    // Announced (and the owners' cached lists dropped) BEFORE a dispatcher may release them: a
    // worker may take a job the moment it is in, and its queue:job:started must never come before
    // the test's queue:job:added on the channel. On one Redis connection the announcement's
    // commands are already written and Redis runs them before the wake-up's; elsewhere it waits.
    const announced = announce(rows, placed);
    if (!deps.eventLogOrderedWithQueue) await announced;
    const woken = wakeDispatchers(
      deps.pubsub,
      rows.map((r) => r.test_id),
      deps.log,
    );
    await Promise.all([announced, woken]);
    deps.status.notify();
    created.forEach((c, j) => {
      out[c.i] = { ok: true, value: { created: true, row: c.row, ...placed[j]! } };
    });
  };
}
