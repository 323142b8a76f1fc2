import type { ApiConfig } from '@crucible/shared';
import type { Dispatcher } from 'undici';
import { EngineError, abortReason, errorMessage, throwIfRefused } from '../errors.js';
import type { EngineContext } from './engine.js';
import { bodyText, checkedTarget, egressOf, header, parserOf } from './support.js';
import type { PathMatch } from '../parsing/json-select.js';

const STEP_TIMEOUT_MS = 30_000;
const STEP_MAX_BYTES = 2 * 1024 * 1024;

type Step = NonNullable<ApiConfig['steps']>[number];

export interface AssertionResult {
  /** `status`, `header:<name>`, `json:<path>`, `bodyContains`, `maxTimeMs`. */
  check: string;
  expected: unknown;
  actual: unknown;
  passed: boolean;
}

export interface StepResult {
  name: string;
  method: string;
  url: string;
  status: number | null;
  durationMs: number | null;
  passed: boolean;
  assertions: AssertionResult[];
  /** Variables this step captured, by name. */
  captured: Record<string, unknown>;
  error?: string;
}

export interface ApiResult {
  url: string;
  passed: boolean;
  totals: { steps: number; passed: number; failed: number; assertions: number; assertionsFailed: number };
  steps: StepResult[];
  summary: { passed: boolean; steps: number; failed: number };
}

/** Replaces `{{name}}` with captured variables; an unknown name is an error naming it. */
export function interpolate(value: string, vars: Record<string, unknown>): string {
  return value.replace(/\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}/g, (_, name: string) => {
    if (!(name in vars)) throw new Error(`variable {{${name}}} is not defined by an earlier step`);
    const v = vars[name];
    return typeof v === 'string' ? v : JSON.stringify(v);
  });
}

function interpolateDeep(value: unknown, vars: Record<string, unknown>): unknown {
  if (typeof value === 'string') return interpolate(value, vars);
  if (Array.isArray(value)) return value.map((v) => interpolateDeep(v, vars));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateDeep(v, vars)]));
  }
  return value;
}

function isEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
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
  const results: StepResult[] = [];

  for (const [i, step] of steps.entries()) {
    if (ctx.signal.aborted) throw abortReason(ctx.signal);
    const method = (step.method ?? (step.body === undefined ? 'GET' : 'POST')) as Dispatcher.HttpMethod;
    const result: StepResult = {
      name: step.name,
      method,
      url: '',
      status: null,
      durationMs: null,
      passed: false,
      assertions: [],
      captured: {},
    };
    results.push(result);
    try {
      const raw = step.url ?? step.path ?? '';
      const target = checkedTarget(egress, new URL(interpolate(raw, vars), base).toString());
      result.url = target.toString();
      const headers = Object.fromEntries(
        Object.entries(step.headers ?? {}).map(([k, v]) => [k.toLowerCase(), interpolate(v, vars)]),
      );
      let body: string | undefined;
      if (step.body !== undefined) {
        const value = interpolateDeep(step.body, vars);
        if (typeof value === 'string') body = value;
        else {
          body = JSON.stringify(value);
          headers['content-type'] ??= 'application/json';
        }
      }
      const res = await egress.request(target, {
        method,
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
      const asserted = a.json ?? [];
      const paths = [...captures.map(([, path]) => path), ...asserted.map(({ path }) => path)];
      // The body is parsed (and searched) only when a path asks for it, and never on the event loop.
      const selection =
        paths.length === 0 ? null : await parserOf(ctx).run({ kind: 'json-select', text, paths }, ctx.signal);
      /** The first match of the i-th path, undefined when none (or the body is not JSON). */
      const match = (i: number): unknown => {
        const found: PathMatch | undefined = selection?.matches[i];
        if (found && 'error' in found) throw new Error(found.error);
        return found?.value;
      };

      for (const [i, [name, path]] of captures.entries()) {
        const value = match(i);
        if (value === undefined) {
          throw new Error(
            selection?.error
              ? `cannot capture ${name}: the body is not JSON`
              : `cannot capture ${name}: ${path} matched nothing`,
          );
        }
        vars[name] = value;
        result.captured[name] = value;
      }

      const check = (name: string, expected: unknown, actual: unknown, passed: boolean) =>
        result.assertions.push({ check: name, expected, actual, passed });
      if (a.status !== undefined) check('status', a.status, res.status, res.status === a.status);
      for (const [name, expected] of Object.entries(a.headers ?? {})) {
        const actual = header(res, name.toLowerCase());
        check(`header:${name.toLowerCase()}`, expected, actual, actual !== null && actual.includes(expected));
      }
      for (const [j, { path, equals }] of asserted.entries()) {
        const actual = match(captures.length + j);
        check(`json:${path}`, equals, actual ?? null, isEqual(actual, equals));
      }
      if (a.bodyContains !== undefined) {
        check(
          'bodyContains',
          a.bodyContains,
          text.length > 200 ? `${text.slice(0, 200)}…` : text,
          text.includes(a.bodyContains),
        );
      }
      if (a.maxTimeMs !== undefined)
        check('maxTimeMs', a.maxTimeMs, res.timings.total, res.timings.total <= a.maxTimeMs);
      result.passed = result.assertions.every((x) => x.passed);
    } catch (err) {
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      // A refused step target fails the whole test: the user aimed it at a private address.
      if (err instanceof EngineError) throw err;
      throwIfRefused(err);
      result.error = errorMessage(err);
      result.passed = false;
    }
    await ctx.progress(Math.round((100 * (i + 1)) / steps.length), 'step', {
      step: i + 1,
      of: steps.length,
      name: step.name,
      status: result.status,
      passed: result.passed,
      ...(result.error ? { error: result.error } : {}),
    });
  }

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
