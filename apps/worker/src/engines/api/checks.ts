import type { ApiAssertionResult, ApiConfig } from '@crucible/contracts';
import type { EgressResponse } from '@crucible/egress';
import { header } from '../support.js';
import type { Match } from './select.js';

type Assert = NonNullable<NonNullable<ApiConfig['steps']>[number]['assert']>;

/**
 * Stores each captured value under its name, in `vars` (for later steps) and `captured` (for the
 * result), in order; a path that matches nothing stops at that name with an error saying why.
 */
export function captureVariables(
  captures: [name: string, path: string][],
  match: Match,
  bodyIsJson: boolean,
  vars: Record<string, unknown>,
  captured: Record<string, unknown>,
): void {
  for (const [i, [name, path]] of captures.entries()) {
    const value = match(i);
    if (value === undefined) {
      throw new Error(
        bodyIsJson
          ? `cannot capture ${name}: ${path} matched nothing`
          : `cannot capture ${name}: the body is not JSON`,
      );
    }
    vars[name] = value;
    captured[name] = value;
  }
}

function isEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Judges the response by every assertion the step sets, in a fixed order (status, headers, JSON
 * paths, body text, time), appending each verdict to `into` as it goes: a JSON path that cannot be
 * evaluated throws, and the verdicts before it stay. `jsonMatch(j)` reads the j-th asserted path.
 */
export function checkResponse(
  a: Assert,
  res: Pick<EgressResponse, 'status' | 'headers' | 'timings'>,
  text: string,
  jsonMatch: Match,
  into: ApiAssertionResult[],
): void {
  const check = (name: string, expected: unknown, actual: unknown, passed: boolean) =>
    into.push({ check: name, expected, actual, passed });
  if (a.status !== undefined) check('status', a.status, res.status, res.status === a.status);
  for (const [name, expected] of Object.entries(a.headers ?? {})) {
    const actual = header(res, name.toLowerCase());
    check(`header:${name.toLowerCase()}`, expected, actual, actual !== null && actual.includes(expected));
  }
  for (const [j, { path, equals }] of (a.json ?? []).entries()) {
    const actual = jsonMatch(j);
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
}
