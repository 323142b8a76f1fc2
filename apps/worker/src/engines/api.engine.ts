import type { ApiConfig, ApiResult, ApiStepResult } from '@crucible/contracts';
import type { Egress } from '@crucible/egress';
import { EngineError, abortReason, errorMessage, throwIfRefused } from '../errors.js';
import type { EngineContext } from './engine.js';
import { bodyText, checkedTarget, egressOf } from './support.js';
import { captureVariables, checkResponse } from './api/checks.js';
import { stepMethod, stepPayload, stepUrl } from './api/request.js';
import type { Step } from './api/request.js';
import { apiResult, pendingStep, stepProgress } from './api/result.js';
import { matcher, selectPaths } from './api/select.js';

const STEP_TIMEOUT_MS = 30_000;
const STEP_MAX_BYTES = 2 * 1024 * 1024;

/**
 * Sends one step and judges its response, filling `result` as it goes (so a step that fails half
 * way shows how far it got) and `vars` with what it captures. Throws when the step cannot be sent,
 * captured from or judged.
 */
async function runStep(
  step: Step,
  result: ApiStepResult,
  vars: Record<string, unknown>,
  base: URL,
  egress: Egress,
  ctx: EngineContext,
): Promise<void> {
  const target = checkedTarget(egress, stepUrl(step, vars, base));
  result.url = target.toString();
  const { headers, body } = stepPayload(step, vars);
  const res = await egress.request(target, {
    method: stepMethod(step),
    headers,
    body,
    signal: ctx.signal,
    timeoutMs: STEP_TIMEOUT_MS,
    maxBytes: STEP_MAX_BYTES,
  });
  result.status = res.status;
  result.durationMs = res.timings.total;
  const text = bodyText(res, STEP_MAX_BYTES);
  const a = step.assert ?? {};
  const captures = Object.entries(step.capture ?? {});
  const asserted = (a.json ?? []).map(({ path }) => path);
  const selection = await selectPaths(text, [...captures.map(([, path]) => path), ...asserted], ctx);
  const match = matcher(selection);
  captureVariables(captures, match, !selection?.error, vars, result.captured);
  checkResponse(a, res, text, (j) => match(captures.length + j), result.assertions);
  result.passed = result.assertions.every((x) => x.passed);
}

/**
 * Runs the steps in order, each a request through the egress guard: variables captured from one
 * response (JSON paths) feed the URLs, headers and bodies of later ones; assertions on status,
 * headers, JSON values, body text and time decide each step. A step that cannot even be sent is
 * failed and the next steps still run (they may not depend on it).
 */
export async function runApi(url: string, config: ApiConfig, ctx: EngineContext): Promise<ApiResult> {
  const egress = egressOf(ctx);
  const base = checkedTarget(egress, url);
  const steps: Step[] = config.steps ?? [{ name: 'GET', assert: { status: 200 } }];
  const vars: Record<string, unknown> = {};
  const results: ApiStepResult[] = [];

  for (const [i, step] of steps.entries()) {
    if (ctx.signal.aborted) throw abortReason(ctx.signal);
    const result = pendingStep(step);
    results.push(result);
    try {
      await runStep(step, result, vars, base, egress, ctx);
    } catch (err) {
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      // A refused step target fails the whole test: the user aimed it at a private address.
      if (err instanceof EngineError) throw err;
      throwIfRefused(err);
      result.error = errorMessage(err);
      result.passed = false;
    }
    const pct = Math.round((100 * (i + 1)) / steps.length);
    await ctx.progress(pct, 'step', stepProgress(result, i, steps.length));
  }
  return apiResult(base, results);
}
