import { createHash, randomUUID } from 'node:crypto';
import {
  CANCEL_TOPIC,
  Channels,
  Events,
  GroupCommit,
  Priority,
  InvalidConfigError,
  QueueStatusPublisher,
  WorkerRegistry,
  channelName,
  createMessage,
  jobIdOf,
  readQueueCounts,
  testJobData,
  testJobOptions,
  validateTestConfig,
} from '@crucible/shared';
import type {
  CancelMessage,
  EventLog,
  GroupCommitOptions,
  PresenceStore,
  PubSub,
  Settled,
  StressConnectionStore,
  TestType,
} from '@crucible/shared';
import type {
  AuthUser,
  BatchOutcome,
  NewBatchTest,
  TestAttempt,
  TestRow,
  TestsRepository,
} from '@crucible/db';
import { EMPTY_ALLOWLIST, EgressError, checkTargetLiteral } from '@crucible/shared/egress';
import type { Allowlist } from '@crucible/shared/egress';
import type { TestQueue } from '@crucible/backplane';
import { HttpProblem, isUnavailable, notFound } from '../errors.js';
import { estimate } from './estimate.js';
import { whyQueued } from './wait-reason.js';
import { QueuePositions } from './queue-positions.js';
import type { Placement, PositionOptions } from './queue-positions.js';
import type { ListQuery, RunTestBody, TestDetail, TestView } from '@crucible/shared/api';

/** Validates a test's config against its type's schema, filling defaults; a 400 problem names the field. */
export function validateConfig(
  testType: TestType,
  config: Record<string, unknown> | undefined,
): Record<string, unknown> {
  try {
    return validateTestConfig(testType, config);
  } catch (err) {
    if (err instanceof InvalidConfigError)
      throw new HttpProblem(400, 'INVALID_CONFIG', 'Bad Request', err.message);
    throw err;
  }
}

/**
 * Only absolute http(s) URLs to a web port are testable, and a literal host the egress guard
 * would refuse (private, loopback, link-local, metadata… unless in `allowlist`) is refused here
 * already, so the user hears it at once. Names are not resolved here: the worker's guard checks
 * every address they resolve to when the test runs.
 */
export function validateTargetUrl(raw: string, allowlist: Allowlist = EMPTY_ALLOWLIST): string {
  try {
    return checkTargetLiteral(raw, allowlist).toString();
  } catch (err) {
    if (!(err instanceof EgressError)) throw err;
    if (err.code === 'TARGET_REFUSED')
      throw new HttpProblem(400, 'TARGET_REFUSED', 'Bad Request', err.message);
    throw new HttpProblem(400, 'INVALID_URL', 'Bad Request', `url: ${err.message}`);
  }
}

export function toTestView(row: TestRow): TestView {
  return {
    testId: row.test_id,
    testType: row.test_type,
    url: row.url,
    name: row.test_name,
    status: row.status,
    verdict: row.verdict,
    rerunOf: row.rerun_of,
    priority: row.priority,
    progress: row.progress,
    retryCount: row.retry_count,
    config: row.config,
    result: row.result ?? null,
    errorMessage: row.error_message,
    createdAt: row.created_at.toISOString(),
    startedAt: row.started_at?.toISOString() ?? null,
    completedAt: row.completed_at?.toISOString() ?? null,
    updatedAt: row.updated_at.toISOString(),
  };
}

function toAttemptView(a: TestAttempt): TestDetail['attempts'][number] {
  return {
    attempt: a.attempt,
    run: a.run,
    status: a.status,
    errorMessage: a.error_message,
    startedAt: a.started_at.toISOString(),
    finishedAt: a.finished_at?.toISOString() ?? null,
  };
}

/** The same request body always hashes the same, whatever its key order. */
export function requestHash(body: RunTestBody): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  const normalised = {
    testType: body.testType,
    url: body.url,
    priority: body.priority ?? 5,
    name: body.name ?? null,
    config: body.config ?? {},
  };
  return createHash('sha256')
    .update(JSON.stringify(canonical(normalised)))
    .digest('hex');
}

/** How many of the caller's unfinished tests the queue status lists. */
const UNFINISHED_SHOWN = 20;

/** Cursors are opaque to clients: the id of the page's last row. */
const encodeCursor = (id: string) => Buffer.from(`v1:${id}`).toString('base64url');
function decodeCursor(cursor: string): string {
  const raw = Buffer.from(cursor, 'base64url').toString();
  const match = /^v1:(\d{1,19})$/.exec(raw);
  if (!match)
    throw new HttpProblem(400, 'INVALID_CURSOR', 'Bad Request', 'cursor is not one this API returned');
  return match[1]!;
}

/** The outcome of one submission of a batch. */
type Submitted =
  | { created: true; row: TestRow; queuePosition: number | null; etaSeconds: number | null }
  | { created: false; earlier: { testId: string; requestHash: string } };

/** Each submission's answer, filled in as a flush goes (undefined: not answered yet). */
type Outcomes = (Settled<Submitted> | undefined)[];

/**
 * A key repeated within one batch: the first submission with it (a leader) is written, the others
 * follow its outcome. Submissions without a key all lead.
 */
function repeatedKeys(items: NewBatchTest[]): { leaders: number[]; followerOf: Map<number, number> } {
  const leaders: number[] = [];
  const followerOf = new Map<number, number>();
  const byKey = new Map<string, number>();
  items.forEach((item, i) => {
    if (!item.idempotency) return leaders.push(i);
    const k = `${item.userId}\0${item.idempotency.key}`;
    const first = byKey.get(k);
    if (first === undefined) {
      byKey.set(k, i);
      leaders.push(i);
    } else followerOf.set(i, first);
  });
  return { leaders, followerOf };
}

/** A repeated key answers as a replay of what its first use made (or with the same error). */
function answerFollowers(items: NewBatchTest[], followerOf: Map<number, number>, out: Outcomes): void {
  for (const [i, first] of followerOf) {
    const lead = out[first]!;
    if (!lead.ok || !lead.value.created) out[i] = lead;
    else {
      out[i] = {
        ok: true,
        value: {
          created: false,
          earlier: { testId: lead.value.row.test_id, requestHash: items[first]!.idempotency!.requestHash },
        },
      };
    }
  }
}

export interface TestsServiceDeps {
  tests: TestsRepository;
  queue: TestQueue;
  eventLog: EventLog;
  /** Cancel requests are broadcast to every worker process on it. */
  pubsub: PubSub;
  /** Where live workers announce themselves (capacity for the ETA, the `workers` count). */
  presence: PresenceStore;
  /** Why queued stress tests wait for connections (their `waitReason`). @defaultValue none noted */
  stressConnections?: Pick<StressConnectionStore, 'waiting'>;
  log: { warn(obj: object, msg: string): void };
  /** Private hosts/ranges tests may target (`TARGET_ALLOWLIST`). @defaultValue none */
  targetAllowlist?: Allowlist;
  /** How concurrent submissions are grouped into one INSERT and one addBulk. */
  groupCommit?: GroupCommitOptions;
  /**
   * The event log sends a publish before the call returns, on the queue's own connection
   * (`Backplane.eventLogOrderedWithQueue`): the add then need not wait for the announcement's
   * answer to come after it. @defaultValue false
   */
  eventLogOrderedWithQueue?: boolean;
  positions?: PositionOptions;
  /**
   * A running test with no write for this long is shown `stalled` (its worker presumed lost) rather
   * than given an ETA. @defaultValue DEFAULT_STALLED_AFTER_MS (BullMQ's lock duration)
   */
  stalledAfterMs?: number;
}

export function createTestsService(deps: TestsServiceDeps) {
  const { tests, queue, eventLog } = deps;
  const registry = new WorkerRegistry(deps.presence);
  const status = new QueueStatusPublisher({
    read: () => readQueueCounts(queue, registry),
    eventLog,
    onError: (err) => deps.log.warn({ err }, 'could not publish the queue status'),
  });

  const publish = (event: Events, channel: string, data: object, userId: string | null) =>
    eventLog
      .publish(createMessage({ event, channel, data, priority: Priority.HIGH, userId }))
      .catch((err: unknown) => deps.log.warn({ err, event, channel }, 'could not publish'));

  async function capacity(): Promise<number> {
    try {
      return (await registry.live()).reduce((sum, w) => sum + w.concurrency, 0);
    } catch (err) {
      // The estimate is a nicety: without Redis it is unknown, not an error.
      deps.log.warn({ err }, 'could not read the live workers');
      return 0;
    }
  }

  async function whereIs(row: TestRow) {
    if (row.status !== 'queued' && row.status !== 'running')
      return { queuePosition: null, etaSeconds: null, stalled: false };
    const [snapshot, cap] = await Promise.all([tests.queueSnapshot(row), capacity()]);
    return estimate(row, snapshot, cap, { stalledAfterMs: deps.stalledAfterMs });
  }

  /** Why a queued test has not started, when a worker noted it (stress connections). */
  async function waitReasonOf(row: TestRow): Promise<string | null> {
    if (row.status !== 'queued' || !deps.stressConnections) return null;
    try {
      return (await deps.stressConnections.waiting([row.test_id])).get(row.test_id) ?? null;
    } catch (err) {
      // A nicety like the estimate: unknown, not an error.
      deps.log.warn({ err }, 'could not read why the test waits');
      return null;
    }
  }

  /** The caller's running and queued tests, each with where it stands and why it waits. */
  async function unfinished(user: AuthUser) {
    const rows = await tests.unfinishedOf(user.id, UNFINISHED_SHOWN);
    if (rows.length === 0) return [];
    const cap = await capacity();
    return Promise.all(
      rows.map(async (row) => {
        const [snapshot, noted] = await Promise.all([tests.queueSnapshot(row), waitReasonOf(row)]);
        const where = estimate(row, snapshot, cap);
        return {
          testId: row.test_id,
          testType: row.test_type,
          name: row.test_name,
          url: row.url,
          status: row.status as 'queued' | 'running',
          priority: row.priority,
          progress: row.progress,
          ...where,
          // A worker's own note (a stress test waiting for connections) says more than the queue.
          waitReason: noted ?? whyQueued(row.status, where.queuePosition, cap, snapshot.running.length),
        };
      }),
    );
  }

  /** A queue that cannot be reached is a 503 (the caller decides what to undo). */
  const queueUnavailable = (err: unknown) =>
    isUnavailable(err)
      ? new HttpProblem(
          503,
          'QUEUE_UNAVAILABLE',
          'Service Unavailable',
          'The queue is unavailable; try again shortly',
          {
            cause: err,
          },
        )
      : err;

  /** Adds the job of the row's current run; a failure is a 503 (the caller decides what to undo). */
  async function enqueue(row: TestRow): Promise<void> {
    try {
      await queue.add(
        row.test_type,
        testJobData(row),
        testJobOptions(row.test_type, row.test_id, row.run, row.priority),
      );
    } catch (err) {
      throw queueUnavailable(err);
    }
  }

  async function announceQueued(row: TestRow, position: number | null) {
    await publish(
      Events.QUEUE_JOB_ADDED,
      channelName(Channels.JOB_STATUS, { jobId: row.test_id }),
      {
        jobId: row.test_id,
        testId: row.test_id,
        testType: row.test_type,
        priority: row.priority,
        queuePosition: position,
      },
      row.user_id,
    );
    status.notify();
  }

  /** PostgreSQL refusing a value (class 22, e.g. a NUL character in text) is the request's fault. */
  const unstorable = (err: unknown) =>
    err instanceof Error && String((err as { code?: unknown }).code ?? '').startsWith('22')
      ? new HttpProblem(
          400,
          'INVALID_BODY',
          'Bad Request',
          `The request holds a value that cannot be stored: ${(err as Error).message}`,
        )
      : err;

  const positions = new QueuePositions(tests, capacity, deps.positions);

  /**
   * Inserts the leaders' rows in one statement (retried row by row when a value is refused, so only
   * its request fails; a key whose earlier test vanished between statements is tried again), and
   * answers in `out` those that end here: refused, unavailable, or a replay of an earlier test.
   * Returns the rows it created, in insertion order.
   */
  async function insertRows(
    items: NewBatchTest[],
    leaders: number[],
    out: Outcomes,
  ): Promise<{ i: number; row: TestRow }[]> {
    const created: { i: number; row: TestRow }[] = [];
    let todo = leaders;
    for (let round = 0; todo.length > 0; round++) {
      let outcomes: (BatchOutcome | undefined)[];
      try {
        outcomes = await tests.createMany(todo.map((i) => items[i]!));
      } catch (err) {
        if (isUnavailable(err) || todo.length === 1) {
          for (const i of todo) out[i] = { ok: false, error: unstorable(err) };
          break;
        }
        // Not the database being away but something about a row: each on its own, so only its
        // request fails (undefined: answered already).
        outcomes = [];
        for (const i of todo) {
          try {
            outcomes.push(...(await tests.createMany([items[i]!])));
          } catch (error) {
            out[i] = { ok: false, error: unstorable(error) };
            outcomes.push(undefined);
          }
        }
      }
      const again: number[] = [];
      todo.forEach((i, j) => {
        const o = outcomes[j];
        if (!o) return;
        if (o.created) {
          created.push({ i, row: o.row });
        } else if (o.earlier) out[i] = { ok: true, value: { created: false, earlier: o.earlier } };
        // The earlier test vanished between the statements: its key is free again.
        else if (round < 3) again.push(i);
        else out[i] = { ok: false, error: new Error('idempotency key kept changing hands') };
      });
      todo = again;
    }
    return created.sort((x, y) => (BigInt(x.row.id) < BigInt(y.row.id) ? -1 : 1));
  }

  /** The batch's `queue:job:added` events (and, through the wrapper, its owners' list invalidation). */
  function announce(rows: TestRow[], placed: Placement[]): Promise<unknown> {
    return eventLog
      .publishAll(
        rows.map((row, j) =>
          createMessage({
            event: Events.QUEUE_JOB_ADDED,
            channel: channelName(Channels.JOB_STATUS, { jobId: row.test_id }),
            data: {
              jobId: row.test_id,
              testId: row.test_id,
              testType: row.test_type,
              priority: row.priority,
              queuePosition: placed[j]!.queuePosition,
            },
            priority: Priority.HIGH,
            userId: row.user_id,
          }),
        ),
        { created: true },
      )
      .catch((err: unknown) => deps.log.warn({ err }, 'could not publish the accepted batch'));
  }

  /** Undoes rows whose jobs could not be added: nothing half-written stays, every one is a 503. */
  async function withdraw(rows: TestRow[]): Promise<void> {
    await tests
      .deleteMany(rows.map((r) => r.test_id))
      .catch((error: unknown) =>
        deps.log.warn(
          { err: error },
          'could not remove the rows of a failed enqueue; the reconciler will enqueue them',
        ),
      );
    positions.abandoned(rows);
    // A list read meanwhile may hold them: deleted records drop their owners' lists again (one
    // publish for the lot, one invalidation).
    await eventLog
      .publishAll(
        rows.map((row) =>
          createMessage({
            event: Events.TEST_RECORD_DELETED,
            channel: Channels.TEST_HISTORY_UPDATES,
            data: { testId: row.test_id },
            priority: Priority.HIGH,
            userId: row.user_id,
          }),
        ),
      )
      .catch((err: unknown) => deps.log.warn({ err }, 'could not announce the withdrawn batch'));
  }

  /** Places, announces and enqueues the created rows, answering each of them in `out`. */
  async function enqueueCreated(created: { i: number; row: TestRow }[], out: Outcomes): Promise<void> {
    const rows = created.map((c) => c.row);
    const placed = await positions.place(rows).catch((err: unknown) => {
      // The estimate is a nicety: the tests are accepted all the same.
      deps.log.warn({ err }, 'could not place the batch in the queue');
      return rows.map((): Placement => ({ queuePosition: null, etaSeconds: null }));
    });
    // Announced (and the owners' cached lists dropped) BEFORE the jobs are added: a worker may take
    // a job the moment it is in, and its queue:job:started must never come before the test's
    // queue:job:added on the channel. Nobody can watch a test before its id is answered, so if the
    // add then fails, the event is left only in the history of a channel nobody knows.
    const announced = announce(rows, placed);
    // On one Redis connection the announcement's commands are already written, and Redis runs them
    // before the add's: the add goes at once, sharing the round trip. Elsewhere it waits.
    if (!deps.eventLogOrderedWithQueue) await announced;
    try {
      await queue.addBulk(
        rows.map((row) => ({
          name: row.test_type,
          data: testJobData(row),
          opts: testJobOptions(row.test_type, row.test_id, row.run, row.priority),
        })),
      );
    } catch (err) {
      await announced;
      await withdraw(rows);
      const error = queueUnavailable(err);
      for (const c of created) out[c.i] = { ok: false, error };
      return;
    }
    await announced;
    status.notify();
    created.forEach((c, j) => {
      out[c.i] = { ok: true, value: { created: true, row: c.row, ...placed[j]! } };
    });
  }

  /**
   * One flush of the group commit: one INSERT for the whole batch, one count for the positions, one
   * pipeline of events and one addBulk. Every submission gets its own outcome.
   */
  async function commit(items: NewBatchTest[]): Promise<Settled<Submitted>[]> {
    const out: Outcomes = items.map(() => undefined);
    const { leaders, followerOf } = repeatedKeys(items);
    positions.reserve(leaders.map((i) => items[i]!.testId));
    const created = await insertRows(items, leaders, out);
    const made = new Set(created.map((c) => c.i));
    positions.release(leaders.filter((i) => !made.has(i)).map((i) => items[i]!.testId));
    if (created.length > 0) await enqueueCreated(created, out);
    answerFollowers(items, followerOf, out);
    return out.map(
      (o) => o ?? { ok: false, error: new Error('group commit: a submission was left unanswered') },
    );
  }

  const committer = new GroupCommit(commit, deps.groupCommit);

  return {
    /**
     * Accepts a test: the row is written first (PostgreSQL is the record), then the job is enqueued
     * with jobId = testId. If the enqueue fails the row is removed again, so a 503 leaves nothing
     * half-written behind. With an idempotency key, a repeat within 24 h returns the first test.
     * Concurrent submissions are written together (one INSERT, one addBulk: {@link GroupCommit}).
     */
    async submit(
      user: AuthUser,
      body: RunTestBody,
      idempotencyKey?: string,
    ): Promise<{
      testId: string;
      status: TestRow['status'];
      queuePosition: number | null;
      etaSeconds: number | null;
      replayed: boolean;
    }> {
      const url = validateTargetUrl(body.url, deps.targetAllowlist);
      const config = validateConfig(body.testType, body.config);
      const test = {
        testId: randomUUID(),
        testType: body.testType,
        testName: body.name ?? null,
        url,
        config,
        priority: body.priority ?? 5,
        userId: user.id,
      };
      const hash = idempotencyKey === undefined ? undefined : requestHash(body);
      const outcome = await committer.submit({
        ...test,
        ...(hash === undefined ? {} : { idempotency: { key: idempotencyKey!, requestHash: hash } }),
      });
      if (outcome.created) {
        const { row } = outcome;
        return {
          testId: row.test_id,
          status: row.status,
          queuePosition: outcome.queuePosition,
          etaSeconds: outcome.etaSeconds,
          replayed: false,
        };
      }
      if (outcome.earlier.requestHash !== hash) {
        throw new HttpProblem(
          422,
          'IDEMPOTENCY_KEY_REUSED',
          'Unprocessable Entity',
          'This Idempotency-Key was used with a different request body',
        );
      }
      const earlier = await tests.findById(outcome.earlier.testId);
      if (!earlier) throw notFound();
      return { testId: earlier.test_id, status: earlier.status, ...(await whereIs(earlier)), replayed: true };
    },

    async detail(user: AuthUser, testId: string): Promise<TestDetail> {
      const row = await tests.findVisible(testId, user);
      if (!row) throw notFound();
      const [where, attempts, waitReason, reruns] = await Promise.all([
        whereIs(row),
        tests.attemptsOf(testId),
        waitReasonOf(row),
        tests.rerunsOf(testId, user),
      ]);
      return { ...toTestView(row), ...where, waitReason, attempts: attempts.map(toAttemptView), reruns };
    },

    /**
     * Cancels a queued or running test: the row says `cancelled` at once; a queued job is removed,
     * and every worker process is told to abort it in case it is running.
     */
    async cancel(user: AuthUser, testId: string): Promise<void> {
      const outcome = await tests.cancel(testId, user);
      if (outcome.outcome !== 'cancelled') {
        throw outcome.outcome === 'missing'
          ? notFound()
          : new HttpProblem(409, 'TEST_FINISHED', 'Conflict', 'The test has already finished');
      }
      const row = outcome.row;
      const jobId = jobIdOf(testId, row.run);
      // A job being run is locked and stays; the broadcast below stops it.
      await queue
        .remove(jobId)
        .catch((err: unknown) => deps.log.warn({ err, testId }, 'could not remove the job'));
      const message: CancelMessage = { testId, jobId };
      await deps.pubsub
        .publish(CANCEL_TOPIC, JSON.stringify(message))
        .catch((err: unknown) => deps.log.warn({ err, testId }, 'could not broadcast the cancel'));
      await publish(
        Events.TEST_CANCELLED,
        channelName(Channels.TEST_PROGRESS, { testId }),
        { testId, status: 'cancelled' },
        row.user_id,
      );
      await publish(
        Events.QUEUE_JOB_FAILED,
        channelName(Channels.JOB_STATUS, { jobId: testId }),
        { jobId: testId, testId, status: 'cancelled', willRetry: false },
        row.user_id,
      );
      status.notify();
    },

    /**
     * "Run again": a finished test's type, URL, config, name and priority submitted as a NEW test of
     * the caller's that points back at it (`rerunOf`), so both results stay and can be compared.
     * The URL and config are checked again as at submission (the allowlist may have changed).
     */
    async rerunAsNew(user: AuthUser, testId: string) {
      const original = await tests.findVisible(testId, user);
      if (!original) throw notFound();
      if (original.status === 'queued' || original.status === 'running') {
        throw new HttpProblem(
          409,
          'TEST_NOT_FINISHED',
          'Conflict',
          'The test is still queued or running; run it again once it has finished',
        );
      }
      const outcome = await committer.submit({
        testId: randomUUID(),
        testType: original.test_type,
        testName: original.test_name,
        url: validateTargetUrl(original.url, deps.targetAllowlist),
        config: validateConfig(original.test_type, original.config),
        priority: original.priority,
        userId: user.id,
        rerunOf: original.test_id,
      });
      if (!outcome.created) throw new Error('a re-run without an idempotency key was not created');
      // The original's page lists its re-runs: its cached detail goes.
      await publish(
        Events.TEST_RECORD_UPDATED,
        Channels.TEST_HISTORY_UPDATES,
        { testId: original.test_id, rerunBy: outcome.row.test_id },
        original.user_id,
      );
      return {
        testId: outcome.row.test_id,
        rerunOf: original.test_id,
        status: outcome.row.status,
        queuePosition: outcome.queuePosition,
        etaSeconds: outcome.etaSeconds,
      };
    },

    /** Runs a failed or cancelled test again as a new run; its earlier attempts stay in the history. */
    async retry(user: AuthUser, testId: string) {
      const outcome = await tests.rerun(testId, user);
      if (outcome.outcome !== 'queued') {
        throw outcome.outcome === 'missing'
          ? notFound()
          : new HttpProblem(
              409,
              'NOT_RETRYABLE',
              'Conflict',
              'Only a failed or cancelled test can be retried',
            );
      }
      // Announced before the job is added, so a worker's queue:job:started of the new run can never
      // come before it. The row is the record: if Redis is down now, the reconciler enqueues the
      // run once it is back.
      const where = await whereIs(outcome.row);
      await announceQueued(outcome.row, where.queuePosition);
      await enqueue(outcome.row).catch((err: unknown) =>
        deps.log.warn({ err, testId }, 'could not enqueue the re-run; the reconciler will'),
      );
      return { testId, status: 'queued' as const, ...where };
    },

    async list(user: AuthUser, query: ListQuery) {
      const ownerEmail = query.owner?.trim().toLowerCase();
      const other =
        (query.userId !== undefined && query.userId !== user.id) ||
        (ownerEmail !== undefined && ownerEmail !== user.email);
      if (other && user.role !== 'admin') {
        throw new HttpProblem(403, 'FORBIDDEN', 'Forbidden', "Only admins may list other users' tests");
      }
      const page = await tests.list(user, {
        status: query.status,
        testType: query.testType,
        urlContains: query.url,
        userId: query.userId,
        ownerEmail,
        afterId: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
        limit: query.limit ?? 20,
      });
      return {
        items: page.rows.map((row) => ({
          ...toTestView(row),
          owner: row.user_id && row.owner_email ? { id: row.user_id, email: row.owner_email } : null,
        })),
        nextCursor: page.nextAfterId === null ? null : encodeCursor(page.nextAfterId),
      };
    },

    async queueStatus(user: AuthUser) {
      const [mine, counts, waiting] = await Promise.all([
        tests.countByStatus(user.id),
        readQueueCounts(queue, registry),
        unfinished(user),
      ]);
      return { user: mine, queue: counts, tests: waiting };
    },

    async cleanup(user: AuthUser, olderThanHours: number, all: boolean): Promise<number> {
      if (all && user.role !== 'admin') {
        throw new HttpProblem(403, 'FORBIDDEN', 'Forbidden', "Only admins may clean up other users' tests");
      }
      const deleted = await tests.deleteFinished(all ? null : user.id, olderThanHours);
      // Each deletion is announced, which also drops the test's cached views (DESIGN.md, "Response cache").
      for (let i = 0; i < deleted.length; i += 50) {
        await Promise.all(
          deleted
            .slice(i, i + 50)
            .map((row) =>
              publish(
                Events.TEST_RECORD_DELETED,
                Channels.TEST_HISTORY_UPDATES,
                { testId: row.test_id },
                row.user_id,
              ),
            ),
        );
      }
      return deleted.length;
    },

    close(): void {
      status.close();
    },
  };
}

export { DEFAULT_DURATION_SEC, estimate } from './estimate.js';
export type { PositionOptions } from './queue-positions.js';

export type TestsService = ReturnType<typeof createTestsService>;
