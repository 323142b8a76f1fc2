import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import {
  Channels,
  Events,
  Priority,
  InvalidConfigError,
  TestCatalog,
  channelName,
  createMessage,
  toBullPriority,
  validateTestConfig,
} from '@crucible/shared';
import type { EventLog, TestType } from '@crucible/shared';
import type { AuthUser, Db, TestRow, TestsRepository } from '@crucible/db';
import { EMPTY_ALLOWLIST, EgressError, checkTargetLiteral } from '@crucible/shared/egress';
import type { Allowlist } from '@crucible/shared/egress';
import type { TestQueue } from '@crucible/backplane';
import { HttpProblem, isUnavailable } from '../errors.js';
import type { RunTestBody, TestView } from '@crucible/shared/api';

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

export interface TestsServiceDeps {
  db: Db;
  tests: TestsRepository;
  queue: TestQueue;
  eventLog: EventLog;
  log: { warn(obj: object, msg: string): void };
  /** Private hosts/ranges tests may target (`TARGET_ALLOWLIST`). @defaultValue none */
  targetAllowlist?: Allowlist;
}

export function createTestsService(deps: TestsServiceDeps) {
  const { tests, queue, eventLog } = deps;

  /** How many queued tests run before this one: higher priority first, then older first. */
  async function queuePosition(row: TestRow): Promise<number> {
    const res = await deps.db.kysely
      .selectFrom('test_queue')
      .select(sql<string>`count(*)`.as('ahead'))
      .where('status', '=', 'queued')
      .where((eb) =>
        eb.or([
          eb('priority', '>', row.priority),
          eb.and([eb('priority', '=', row.priority), eb('id', '<', row.id)]),
        ]),
      )
      .executeTakeFirstOrThrow();
    return Number(res.ahead) + 1;
  }

  return {
    /**
     * Accepts a test: the row is written first (PostgreSQL is the record), then the job is enqueued
     * with jobId = testId. If the enqueue fails the row is removed again, so a 503 leaves nothing
     * half-written behind.
     */
    async submit(user: AuthUser, body: RunTestBody): Promise<{ testId: string; queuePosition: number }> {
      const url = validateTargetUrl(body.url, deps.targetAllowlist);
      const config = validateConfig(body.testType, body.config);
      const entry = TestCatalog[body.testType];
      const testId = randomUUID();
      const priority = body.priority ?? 5;
      const row = await tests.create({
        testId,
        testType: body.testType,
        testName: body.name ?? null,
        url,
        config,
        priority,
        userId: user.id,
      });
      try {
        await queue.add(
          body.testType,
          { testId, testType: body.testType, url, config, userId: user.id },
          {
            jobId: testId,
            priority: toBullPriority(priority),
            attempts: entry.attempts,
            backoff: { type: 'exponential', delay: 2_000 },
            removeOnComplete: { count: 100, age: 24 * 3600 },
            removeOnFail: { count: 500, age: 7 * 24 * 3600 },
          },
        );
      } catch (err) {
        await deps.db.kysely.deleteFrom('test_queue').where('test_id', '=', testId).execute();
        if (isUnavailable(err)) {
          throw new HttpProblem(
            503,
            'QUEUE_UNAVAILABLE',
            'Service Unavailable',
            'The queue is unavailable; try again shortly',
            { cause: err },
          );
        }
        throw err;
      }
      const position = await queuePosition(row);
      await eventLog
        .publish(
          createMessage({
            event: Events.QUEUE_JOB_ADDED,
            channel: channelName(Channels.JOB_STATUS, { jobId: testId }),
            data: { jobId: testId, testId, testType: body.testType, priority, queuePosition: position },
            priority: Priority.NORMAL,
            userId: user.id,
          }),
        )
        .catch((err: unknown) => deps.log.warn({ err, testId }, 'could not publish queue:job:added'));
      return { testId, queuePosition: position };
    },
  };
}

export type TestsService = ReturnType<typeof createTestsService>;
