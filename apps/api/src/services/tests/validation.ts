import { createHash } from 'node:crypto';
import {
  InvalidConfigError,
  DEFAULT_TOLERANCE_PCT,
  InvalidThresholdError,
  LIVE_JUDGED_TYPES,
  parseDelaySec,
  invalidThresholdDetail,
  metricNames,
  validateTestConfig,
  validateThresholds,
} from '@crucible/contracts';
import type { AbortThreshold, Judging, TestType } from '@crucible/contracts';
import type { RunTestBody } from '@crucible/contracts/api';
import type { TestsRepository } from '@crucible/db';
import { EMPTY_ALLOWLIST, EgressError, checkTargetLiteral } from '@crucible/egress';
import type { Allowlist } from '@crucible/egress';
import { HttpProblem, notFound } from '../../errors.js';

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
 * How a submission asks to be judged, checked against its type's metric catalogue before anything
 * is stored; null when it asks for nothing beyond the defaults. A bad threshold is a 400 problem
 * naming the expression and listing the type's metrics.
 */
export function validateJudging(
  testType: TestType,
  body: Pick<RunTestBody, 'thresholds' | 'runs' | 'failOnRegression' | 'comparisonTolerancePct'>,
): Judging | null {
  const given = body.thresholds ?? [];
  const thresholds = given.map((t) => (typeof t === 'string' ? t : t.expression));
  const abortOnFail: AbortThreshold[] = [];
  try {
    validateThresholds(testType, thresholds);
    for (const t of given) {
      if (typeof t === 'string' || !t.abortOnFail) continue;
      if (!LIVE_JUDGED_TYPES.includes(testType)) {
        throw new InvalidThresholdError(
          t.expression,
          `abortOnFail needs a metric judged live while the test runs; only ${LIVE_JUDGED_TYPES.join(', ')} tests have them`,
        );
      }
      const delay = t.delayAbortEval === undefined ? 0 : parseDelaySec(t.delayAbortEval);
      if (!Number.isFinite(delay) || delay > 86_400)
        throw new InvalidThresholdError(
          t.expression,
          `delayAbortEval ${JSON.stringify(t.delayAbortEval)} is not a duration like "5s", "500ms" or "1m"`,
        );
      abortOnFail.push({ expression: t.expression, ...(delay > 0 ? { delayAbortEvalSec: delay } : {}) });
    }
  } catch (err) {
    if (!(err instanceof InvalidThresholdError)) throw err;
    throw new HttpProblem(400, 'INVALID_THRESHOLD', 'Bad Request', invalidThresholdDetail(testType, err), {
      extensions: { expression: err.expression, metrics: metricNames(testType) },
    });
  }
  const runs = body.runs ?? 1;
  const judging: Judging = {
    thresholds: [...thresholds],
    ...(abortOnFail.length > 0 ? { abortOnFail } : {}),
    ...(runs === 1 ? {} : { runs }),
    ...(body.failOnRegression ? { failOnRegression: true } : {}),
    ...(body.comparisonTolerancePct === undefined || body.comparisonTolerancePct === DEFAULT_TOLERANCE_PCT
      ? {}
      : { comparisonTolerancePct: body.comparisonTolerancePct }),
  };
  return Object.keys(judging).length === 1 && thresholds.length === 0 ? null : judging;
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
    thresholds: body.thresholds ?? [],
    runs: body.runs ?? 1,
    baseline: body.baseline ?? null,
    failOnRegression: body.failOnRegression ?? false,
    comparisonTolerancePct: body.comparisonTolerancePct ?? DEFAULT_TOLERANCE_PCT,
  };
  return createHash('sha256')
    .update(JSON.stringify(canonical(normalised)))
    .digest('hex');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The test a submission's `baseline` names: `"previous"` is the caller's latest completed test of
 * the same type and URL (undefined when there is none yet: nothing to compare with); an id must be
 * one of the caller's tests — another user's is 404, exactly like a missing one.
 */
export async function resolveBaseline(
  tests: Pick<TestsRepository, 'findById' | 'latestCompleted'>,
  workspaceId: string,
  test: { testType: TestType; url: string; baseline?: string },
): Promise<string | undefined> {
  const { baseline } = test;
  if (baseline === undefined) return undefined;
  if (baseline === 'previous') return tests.latestCompleted(workspaceId, test.testType, test.url);
  const row = UUID.test(baseline) ? await tests.findById(baseline.toLowerCase()) : undefined;
  // Like any test of another workspace: as if it did not exist.
  if (!row || row.workspace_id !== workspaceId) throw notFound('Baseline test');
  return row.test_id;
}
