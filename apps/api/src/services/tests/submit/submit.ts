import { randomUUID } from 'node:crypto';
import type { Actor } from '../../workspace-access.js';
import type { TestRow, TestsRepository } from '@crucible/db';
import type { Judging } from '@crucible/contracts';
import type { RunTestBody } from '@crucible/contracts/api';
import type { Allowlist } from '@crucible/egress';
import { HttpProblem, notFound } from '../../../errors.js';
import type { Standing } from '../standing.js';
import {
  requestHash,
  resolveBaseline,
  validateConfig,
  validateJudging,
  validateTargetUrl,
} from '../validation.js';
import type { SubmitCommitter } from './committer.js';

export interface SubmitDeps {
  tests: Pick<TestsRepository, 'findById' | 'latestCompleted'>;
  committer: SubmitCommitter;
  standing: Pick<Standing, 'whereIs'>;
  /** Private hosts/ranges tests may target (`TARGET_ALLOWLIST`). @defaultValue none */
  targetAllowlist?: Allowlist;
}

export function createSubmit(deps: SubmitDeps) {
  /** How the submission is judged, its baseline resolved; checked before anything is stored. */
  async function judgingOf(user: Actor, body: RunTestBody, url: string): Promise<Judging | null> {
    const judging = validateJudging(body.testType, body);
    const baseline = await resolveBaseline(deps.tests, user.workspaceId, {
      testType: body.testType,
      url,
      baseline: body.baseline,
    });
    if (baseline === undefined) return judging;
    return { ...(judging ?? { thresholds: [] }), baseline };
  }

  /**
   * Accepts a test: the row is written first (PostgreSQL is the record), then the job is enqueued
   * with jobId = testId. If the enqueue fails the row is removed again, so a 503 leaves nothing
   * half-written behind. With an idempotency key, a repeat within 24 h returns the first test.
   * Concurrent submissions are written together (one INSERT, one addBulk: {@link GroupCommit}).
   * Over a quota of the workspace (submissions per minute, queued tests, stress budget) it is
   * refused with 429 `QUOTA_EXCEEDED` and nothing is stored.
   */
  return async function submit(
    user: Actor,
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
    const judging = await judgingOf(user, body, url);
    const test = {
      testId: randomUUID(),
      testType: body.testType,
      testName: body.name ?? null,
      url,
      config,
      priority: body.priority ?? 5,
      userId: user.id,
      workspaceId: user.workspaceId,
      judging,
    };
    const hash = idempotencyKey === undefined ? undefined : requestHash(body);
    // The flush holds it to the workspace's quotas (submissions per minute among them).
    const outcome = await deps.committer.submit({
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
    // A replay stores nothing new (and does not count as a submission).
    if (outcome.earlier.requestHash !== hash) {
      throw new HttpProblem(
        422,
        'IDEMPOTENCY_KEY_REUSED',
        'Unprocessable Entity',
        'This Idempotency-Key was used with a different request body',
      );
    }
    const earlier = await deps.tests.findById(outcome.earlier.testId);
    if (!earlier) throw notFound();
    return {
      testId: earlier.test_id,
      status: earlier.status,
      ...(await deps.standing.whereIs(earlier)),
      replayed: true,
    };
  };
}
