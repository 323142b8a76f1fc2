import type { Cache } from './cache.js';
import { Events } from '@crucible/contracts';
import type {
  DraftMessage,
  Envelope,
  EventLog,
  PublishAllOptions,
  QueueJobFailedData,
} from '@crucible/contracts';

/** The namespace of the API's response cache (DESIGN.md, "Response cache"). */
export const HTTP_CACHE_NAMESPACE = 'http';

/** The Redis key prefix of a deployment's cache. */
export function cachePrefix(prefix: string): string {
  return `${prefix}:cache`;
}

/** Tags of the API's cached responses: what one test's change must invalidate. */
export const TestCacheTags = {
  /** Every cached response showing this test (its detail, whoever asked). */
  test: (testId: string) => `test:${testId}`,
  /** Every cached response listing or counting this user's tests (their lists, their queue status). */
  owner: (userId: string) => `owner:${userId}`,
  /** Every cached response listing every user's tests (an admin's list without `userId`). */
  all: 'tests:all',
} as const;

/**
 * Events after which a test's cached views are stale: its status (or existence) changed. A
 * status change is announced twice — `test:{started,completed,failed,cancelled}` on the test's
 * channel, then `queue:job:*` on its job channel — and invalidating on the first is enough: the
 * row was written before either, so anything cached after that invalidation already holds the new
 * status. The `queue:job:*` events invalidate only where no `test:*` event announces the change:
 * a job added (submit, retry), an attempt that failed and will be retried (back to `queued`,
 * `retry_count` raised), and a stress test that waits for connections (its `waitReason`). Progress
 * never invalidates (see DESIGN.md, "Response cache").
 */
const STATUS_EVENTS: ReadonlySet<string> = new Set<Events>([
  Events.TEST_STARTED,
  Events.TEST_COMPLETED,
  Events.TEST_FAILED,
  Events.TEST_CANCELLED,
  Events.QUEUE_JOB_ADDED,
  Events.QUEUE_JOB_WAITING,
  Events.TEST_RECORD_CREATED,
  Events.TEST_RECORD_UPDATED,
  Events.TEST_RECORD_DELETED,
]);

function changesStatus(draft: Pick<DraftMessage, 'event' | 'data'>): boolean {
  if (STATUS_EVENTS.has(draft.event)) return true;
  return draft.event === Events.QUEUE_JOB_FAILED && (draft.data as QueueJobFailedData).willRetry;
}

/** The tags a status event of a test invalidates; none for any other event. */
export function testEventTags(
  draft: Pick<DraftMessage, 'event' | 'data' | 'userId'>,
  options: { created?: boolean } = {},
): string[] {
  if (!changesStatus(draft)) return [];
  const data = draft.data as { testId?: unknown } | null;
  const tags: string[] = [];
  // A test created by this very write has no cached view of its own yet.
  if (!options.created && data && typeof data.testId === 'string') tags.push(TestCacheTags.test(data.testId));
  if (draft.userId) tags.push(TestCacheTags.owner(draft.userId));
  tags.push(TestCacheTags.all);
  return tags;
}

/**
 * `cache` is the deployment's root cache (its `http` namespace holds the API's responses).
 *
 * The event log every process publishes test events through, invalidating the test's cached views
 * (in Redis and, over the bus, in every api process's memory) BEFORE the event goes out: whoever
 * reacts to `test:completed` by asking the API reads the new status, never a cached old one.
 * Riding on the event log means no status change can forget its invalidation — the worker's, the
 * API's own (submit, cancel, retry) and any later publisher's alike.
 */
export function invalidatingEventLog(inner: EventLog, cache: Cache): EventLog {
  const http = cache.namespace(HTTP_CACHE_NAMESPACE);
  const log: EventLog = {
    // One message is a lot of one: the same single round trip as a batch.
    async publish<D>(draft: DraftMessage<D>): Promise<Envelope<D>> {
      const [message] = await log.publishAll([draft]);
      return message as Envelope<D>;
    },
    // One invalidation for every message of the lot (a status change goes out on two channels;
    // the API's group commit publishes a batch). Its commands go out synchronously and the messages
    // right behind them: on the one Redis connection a deployment's cache and event log share,
    // Redis runs them in that order — one round trip, and still no subscriber hears of the change
    // before the cached views are gone. (Memory tier and in-process bus: the local entries were
    // dropped synchronously, and the bus delivers in order.)
    async publishAll(drafts: readonly DraftMessage[], options: PublishAllOptions = {}): Promise<Envelope[]> {
      const tags = [...new Set(drafts.flatMap((draft) => testEventTags(draft, options)))];
      const invalidated = tags.length ? http.invalidateTags(tags) : undefined;
      const [, published] = await Promise.all([invalidated, inner.publishAll(drafts)]);
      return published;
    },
    recover: (channel, sinceOffset) => inner.recover(channel, sinceOffset),
  };
  return log;
}
