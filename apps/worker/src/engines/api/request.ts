import type { ApiConfig } from '@crucible/contracts';
import type { Dispatcher } from 'undici';
import { interpolate, interpolateDeep } from './variables.js';

export type Step = NonNullable<ApiConfig['steps']>[number];

/** The step's method: as given, else POST when it has a body, GET when not. */
export function stepMethod(step: Step): Dispatcher.HttpMethod {
  return (step.method ?? (step.body === undefined ? 'GET' : 'POST')) as Dispatcher.HttpMethod;
}

/** The step's URL (or path) with its variables filled, resolved against the test's URL. */
export function stepUrl(step: Step, vars: Record<string, unknown>, base: URL): string {
  return new URL(interpolate(step.url ?? step.path ?? '', vars), base).toString();
}

/**
 * The step's headers (names in lower case) and body with their variables filled: a body that is
 * not a string is sent as JSON, with that content type unless the step sets one.
 */
export function stepPayload(
  step: Step,
  vars: Record<string, unknown>,
): { headers: Record<string, string>; body: string | undefined } {
  const headers = Object.fromEntries(
    Object.entries(step.headers ?? {}).map(([k, v]) => [k.toLowerCase(), interpolate(v, vars)]),
  );
  if (step.body === undefined) return { headers, body: undefined };
  const value = interpolateDeep(step.body, vars);
  if (typeof value === 'string') return { headers, body: value };
  const body = JSON.stringify(value);
  headers['content-type'] ??= 'application/json';
  return { headers, body };
}
