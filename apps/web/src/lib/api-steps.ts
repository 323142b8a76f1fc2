import type { TSchema } from '@sinclair/typebox';
import { TestCatalog } from '@crucible/contracts/catalog';
import { schemaErrors } from './config-form';
import type { FieldErrors } from './config-form';

/** One name/value row of a headers table. */
export interface Row {
  name: string;
  value: string;
}

/** One `json` assertion row: `equals` is JSON text, or plain text taken as a string. */
export interface JsonRow {
  path: string;
  equals: string;
}

/** An api step as the editor holds it: the text of each input. */
export interface StepDraft {
  name: string;
  method: string;
  url: string;
  headers: Row[];
  body: string;
  status: string;
  maxTimeMs: string;
  bodyContains: string;
  assertHeaders: Row[];
  json: JsonRow[];
  /** Keys the editor has no input for (`capture`, `path`, a value of the wrong type): sent back as they were. */
  rest: Record<string, unknown>;
  /** The same, inside `assert`. */
  assertRest: Record<string, unknown>;
}

export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

export function emptyStep(n: number): StepDraft {
  return {
    name: `step ${n}`,
    method: 'GET',
    url: '/',
    headers: [],
    body: '',
    status: '200',
    maxTimeMs: '',
    bodyContains: '',
    assertHeaders: [],
    json: [],
    rest: {},
    assertRest: {},
  };
}

/** The pre-filled example: one GET of the test's URL that must answer 200. */
export const EXAMPLE_STEPS: StepDraft[] = [{ ...emptyStep(1), name: 'home' }];

const STEP_INPUTS = ['name', 'method', 'url', 'headers', 'body'];
const ASSERT_INPUTS = ['status', 'headers', 'json', 'bodyContains', 'maxTimeMs'];

/** The field keys of n steps, as `schemaErrors` matches failing paths against them. */
function stepKeys(n: number): Set<string> {
  const keys = new Set(['steps']);
  for (let i = 0; i < n; i++) {
    keys.add(`steps.${i}`);
    for (const k of STEP_INPUTS) keys.add(`steps.${i}.${k}`);
    for (const k of ASSERT_INPUTS) keys.add(`steps.${i}.assert.${k}`);
  }
  return keys;
}

function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function rowsToRecord(rows: Row[]): Record<string, string> | undefined {
  const filled = rows.filter((r) => r.name.trim() !== '');
  return filled.length === 0 ? undefined : Object.fromEntries(filled.map((r) => [r.name.trim(), r.value]));
}

/**
 * The api config of the editor's steps, validated with the catalogue schema: messages are keyed
 * by field path (`steps.0.url`, `steps.1.assert.status`) so each shows under its input. Empty
 * inputs are left out. A body that is JSON is sent as JSON (the engine sets the content type).
 */
export function stepsToConfig(steps: StepDraft[]): {
  config: Record<string, unknown>;
  errors: FieldErrors;
} {
  const errors: FieldErrors = {};
  const config = {
    steps: steps.map((s, i) => {
      const step: Record<string, unknown> = { ...s.rest, name: s.name };
      if (s.method) step.method = s.method;
      if (s.url.trim()) step.url = s.url.trim();
      const headers = rowsToRecord(s.headers);
      if (headers) step.headers = headers;
      if (s.body.trim()) step.body = jsonOrText(s.body);
      const assert: Record<string, unknown> = { ...s.assertRest };
      for (const key of ['status', 'maxTimeMs'] as const) {
        const text = s[key].trim();
        if (!text) continue;
        const n = Number(text);
        if (Number.isFinite(n)) assert[key] = n;
        else errors[`steps.${i}.assert.${key}`] = 'Expected a number';
      }
      if (s.bodyContains) assert.bodyContains = s.bodyContains;
      const assertHeaders = rowsToRecord(s.assertHeaders);
      if (assertHeaders) assert.headers = assertHeaders;
      const json = s.json.filter((r) => r.path.trim() !== '');
      if (json.length > 0)
        assert.json = json.map((r) => ({ path: r.path.trim(), equals: jsonOrText(r.equals) }));
      if (Object.keys(assert).length > 0) step.assert = assert;
      if (step.url !== undefined && typeof step.url === 'string' && !step.url.includes('{{')) {
        // The engine resolves a step's URL against the test's URL, so a path is fine.
        try {
          const { protocol } = new URL(step.url, 'http://test.invalid/');
          if (protocol !== 'http:' && protocol !== 'https:')
            errors[`steps.${i}.url`] = 'Use an http or https URL, or a path such as /login';
        } catch {
          errors[`steps.${i}.url`] = 'Not a URL: use an http or https URL, or a path such as /login';
        }
      }
      return step;
    }),
  };
  const schema = TestCatalog.api.configSchema as TSchema;
  for (const [key, message] of Object.entries(schemaErrors(schema, config, stepKeys(steps.length))))
    errors[key] ??= message;
  return { config, errors };
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
const isStringRecord = (v: unknown): v is Record<string, string> =>
  isRecord(v) && Object.values(v).every((x) => typeof x === 'string');

/** Moves `key` from `from` into the draft when it has the type the input holds. */
function take<T>(from: Record<string, unknown>, key: string, fits: (v: unknown) => v is T): T | undefined {
  const value = from[key];
  if (!fits(value)) return undefined;
  delete from[key];
  return value;
}
const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number';
const isJsonRows = (v: unknown): v is { path: string; equals: unknown }[] =>
  Array.isArray(v) && v.every((r) => isRecord(r) && typeof r.path === 'string' && Object.keys(r).length <= 2);

/**
 * The editor's steps for an api config written as JSON, or a message when it is not
 * `{"steps": [...]}`. Whatever has no input is kept aside and sent back unchanged, so the
 * round trip loses nothing and the schema still judges it.
 */
export function configToSteps(config: unknown): StepDraft[] | string {
  if (!isRecord(config) || !Array.isArray(config.steps) || Object.keys(config).length !== 1)
    return 'Expected {"steps": [ ... ]}';
  if (!config.steps.every(isRecord)) return 'Each step must be an object';
  return config.steps.map((raw) => {
    const rest = { ...(raw as Record<string, unknown>) };
    const assertRest = isRecord(rest.assert) ? { ...rest.assert } : {};
    if (isRecord(rest.assert)) delete rest.assert;
    const body = rest.body;
    delete rest.body;
    const equalsText = (v: unknown) =>
      typeof v === 'string' && typeof jsonOrText(v) === 'string' ? v : JSON.stringify(v);
    const rows = (r: Record<string, string> | undefined) =>
      Object.entries(r ?? {}).map(([name, value]) => ({ name, value }));
    return {
      name: take(rest, 'name', isString) ?? '',
      method: take(rest, 'method', isString) ?? '',
      url: take(rest, 'url', isString) ?? '',
      headers: rows(take(rest, 'headers', isStringRecord)),
      body: body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body, null, 2),
      status: String(take(assertRest, 'status', isNumber) ?? ''),
      maxTimeMs: String(take(assertRest, 'maxTimeMs', isNumber) ?? ''),
      bodyContains: take(assertRest, 'bodyContains', isString) ?? '',
      assertHeaders: rows(take(assertRest, 'headers', isStringRecord)),
      json: (take(assertRest, 'json', isJsonRows) ?? []).map((r) => ({
        path: r.path,
        equals: equalsText(r.equals),
      })),
      rest,
      assertRest,
    };
  });
}

/**
 * JSON.parse's message with the line and column of the position it names (or of the end, for
 * input that stops early), since the browser's message gives at most a character offset.
 */
export function parseJson(text: string): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(text) };
  } catch (err) {
    const message = (err as Error).message;
    const at = /at position (\d+)/.exec(message);
    const position = at ? Number(at[1]) : text.length;
    const before = text.slice(0, position).split('\n');
    const what = message.replace(/ in JSON at position \d+.*$/s, '').replace(/^JSON\.parse: /, '');
    return { error: `Line ${before.length}, column ${before.at(-1)!.length + 1}: ${what}` };
  }
}
