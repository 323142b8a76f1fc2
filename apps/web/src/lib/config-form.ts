import { Value } from '@sinclair/typebox/value';
import type { TSchema } from '@sinclair/typebox';
import { TestCatalog } from '@crucible/contracts/catalog';
import type { TestType } from '@crucible/contracts/catalog';

/**
 * The new-test form is drawn from the same catalogue schemas the API validates with, so every
 * option, bound, default and validation message is the API's own.
 */
export type Field =
  | {
      kind: 'number';
      key: string;
      label: string;
      integer: boolean;
      min?: number;
      max?: number;
      defaultValue?: number;
    }
  | { kind: 'select'; key: string; label: string; options: string[]; defaultValue?: string }
  | { kind: 'text'; key: string; label: string; maxLength?: number; multiline: boolean }
  | { kind: 'headers'; key: string; label: string }
  | { kind: 'json'; key: string; label: string }
  | { kind: 'group'; key: string; label: string; fields: Field[] };

interface JsonSchema {
  type?: string;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  default?: unknown;
  anyOf?: JsonSchema[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  patternProperties?: Record<string, JsonSchema>;
}

const UNITS: [RegExp, string][] = [
  [/Sec$/, ' (s)'],
  [/Ms$/, ' (ms)'],
  [/Pct$/, ' (%)'],
];

/** `durationSec` → "Duration (s)", `errorRatePct` → "Error rate (%)". */
export function labelOf(key: string): string {
  let unit = '';
  let base = key;
  for (const [pattern, text] of UNITS) {
    if (pattern.test(key) && key.replace(pattern, '') !== '') {
      unit = text;
      base = key.replace(pattern, '');
      break;
    }
  }
  const words = base.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1) + unit;
}

function fieldOf(key: string, schema: JsonSchema): Field {
  const label = labelOf(key.split('.').at(-1)!);
  if (schema.type === 'integer' || schema.type === 'number') {
    return {
      kind: 'number',
      key,
      label,
      integer: schema.type === 'integer',
      min: schema.minimum,
      max: schema.maximum,
      defaultValue: typeof schema.default === 'number' ? schema.default : undefined,
    };
  }
  if (schema.anyOf && schema.anyOf.every((s) => typeof s.const === 'string')) {
    return {
      kind: 'select',
      key,
      label,
      options: schema.anyOf.map((s) => s.const as string),
      defaultValue: typeof schema.default === 'string' ? schema.default : undefined,
    };
  }
  if (schema.type === 'string') {
    return {
      kind: 'text',
      key,
      label,
      maxLength: schema.maxLength,
      multiline: (schema.maxLength ?? 0) > 2048,
    };
  }
  if (schema.type === 'object' && schema.properties) {
    return { kind: 'group', key, label, fields: fieldsOf(schema as TSchema, `${key}.`) };
  }
  if (schema.type === 'object' && schema.patternProperties) return { kind: 'headers', key, label };
  return { kind: 'json', key, label };
}

/** The form fields of an object schema, in its declared order. */
export function fieldsOf(schema: TSchema, prefix = ''): Field[] {
  const properties = (schema as JsonSchema).properties ?? {};
  return Object.entries(properties).map(([key, property]) => fieldOf(`${prefix}${key}`, property));
}

export function configFields(testType: TestType): Field[] {
  return fieldsOf(TestCatalog[testType].configSchema);
}

/** Form values are the text of each input, keyed by field path (`thresholds.p95Ms`). */
export type FormValues = Record<string, string>;
/** Messages keyed by field path; `''` is the config as a whole. */
export type FieldErrors = Record<string, string>;

function parseHeaders(text: string): Record<string, string> | string {
  const headers: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return `"${line.trim()}" is not "Name: value"`;
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

function leaves(fields: Field[]): Field[] {
  return fields.flatMap((f) => (f.kind === 'group' ? leaves(f.fields) : [f]));
}

/**
 * Turns the form's text into a config object (empty inputs are left out, so the schema's
 * defaults apply) and validates it with the catalogue schema. Returns the config, or the first
 * message for each field that is wrong.
 */
export function buildConfig(
  testType: TestType,
  values: FormValues,
): { config: Record<string, unknown>; errors: FieldErrors } {
  const fields = leaves(configFields(testType));
  const config: Record<string, unknown> = {};
  const errors: FieldErrors = {};
  const put = (key: string, value: unknown) => {
    const path = key.split('.');
    let target = config;
    for (const part of path.slice(0, -1)) target = (target[part] ??= {}) as Record<string, unknown>;
    target[path.at(-1)!] = value;
  };
  for (const field of fields) {
    const text = values[field.key]?.trim() ?? '';
    if (!text) continue;
    switch (field.kind) {
      case 'number': {
        const n = Number(text);
        if (!Number.isFinite(n)) errors[field.key] = 'Expected a number';
        else put(field.key, n);
        break;
      }
      case 'headers': {
        const headers = parseHeaders(values[field.key]!);
        if (typeof headers === 'string') errors[field.key] = headers;
        else put(field.key, headers);
        break;
      }
      case 'json':
        try {
          put(field.key, JSON.parse(text));
        } catch {
          errors[field.key] = 'Expected JSON';
        }
        break;
      case 'select':
      case 'text':
        put(field.key, field.kind === 'text' ? values[field.key] : text);
        break;
    }
  }
  const schema = TestCatalog[testType].configSchema as TSchema;
  const keys = new Set(fields.map((f) => f.key));
  for (const [key, message] of Object.entries(schemaErrors(schema, config, keys))) errors[key] ??= message;
  return { config, errors };
}

/**
 * Validates a config with its catalogue schema (defaults applied, as the API does) and puts the
 * first message for each failing value beside the deepest form field that contains it; `''` when
 * no field does. A message for a value below its field names the rest of the path.
 */
export function schemaErrors(schema: TSchema, config: unknown, keys: ReadonlySet<string>): FieldErrors {
  const errors: FieldErrors = {};
  const candidate = Value.Default(schema, structuredClone(config));
  for (const error of Value.Errors(schema, candidate)) {
    const path = error.path.split('/').filter(Boolean);
    let key = '';
    for (let i = path.length; i > 0 && !key; i--) {
      const candidateKey = path.slice(0, i).join('.');
      if (keys.has(candidateKey)) key = candidateKey;
    }
    const where = key && path.join('.') !== key ? `${path.slice(key.split('.').length).join('.')}: ` : '';
    errors[key] ??= `${where}${error.message}`;
  }
  return errors;
}

/**
 * The form's text for a stored config (editing a monitor): the inverse of {@link buildConfig}, so
 * building the values again gives the same config. Values without an input are left out.
 */
export function configToValues(testType: TestType, config: unknown): FormValues {
  const values: FormValues = {};
  const at = (key: string): unknown =>
    key
      .split('.')
      .reduce<unknown>(
        (v, part) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[part] : undefined),
        config,
      );
  for (const field of leaves(configFields(testType))) {
    const value = at(field.key);
    if (value === undefined || value === null) continue;
    switch (field.kind) {
      case 'headers':
        values[field.key] = Object.entries(value as Record<string, string>)
          .map(([name, v]) => `${name}: ${v}`)
          .join('\n');
        break;
      case 'json':
        values[field.key] = JSON.stringify(value, null, 2);
        break;
      default:
        values[field.key] = String(value);
    }
  }
  return values;
}
