import type { ApiResult, ApiStepResult } from '@crucible/contracts';
import type { Step } from './request.js';
import { stepMethod } from './request.js';

/** A step's result before it is sent: nothing measured, not passed. */
export function pendingStep(step: Step): ApiStepResult {
  return {
    name: step.name,
    method: stepMethod(step),
    url: '',
    status: null,
    durationMs: null,
    passed: false,
    assertions: [],
    captured: {},
  };
}

/** What a live subscriber is shown after the i-th (0-based) of `of` steps. */
export function stepProgress(result: ApiStepResult, i: number, of: number): object {
  return {
    step: i + 1,
    of,
    name: result.name,
    status: result.status,
    passed: result.passed,
    ...(result.error ? { error: result.error } : {}),
  };
}

/** The test passes when every step did; totals of steps and assertions. */
export function apiResult(base: URL, results: ApiStepResult[]): ApiResult {
  const failed = results.filter((r) => !r.passed).length;
  const assertions = results.flatMap((r) => r.assertions);
  return {
    url: base.toString(),
    passed: failed === 0,
    totals: {
      steps: results.length,
      passed: results.length - failed,
      failed,
      assertions: assertions.length,
      assertionsFailed: assertions.filter((a) => !a.passed).length,
    },
    steps: results,
    summary: { passed: failed === 0, steps: results.length, failed },
  };
}
