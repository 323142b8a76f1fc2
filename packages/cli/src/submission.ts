import { readFileSync } from 'node:fs';
import { TestTypes } from '@crucible/contracts';
import type { TestType } from '@crucible/contracts';
import { parse as parseYaml } from 'yaml';
import { CliError, ExitCode } from './exit-codes.js';

/** What `crucible run` and one check of a checks file submit. */
export interface CheckSpec {
  name?: string;
  type: TestType;
  target: string;
  config?: Record<string, unknown>;
  /** `"<metric> <op> <number>"`, judged by the server (issue #21's language). */
  thresholds?: (string | { expression: string; abortOnFail?: boolean; delayAbortEval?: string })[];
  /** 1–10 measurements within the one test. */
  runs?: number;
  /** `previous` or a test id to compare with. */
  baseline?: string;
  failOnRegression?: boolean;
  priority?: number;
  /** A monitor's schedule (`crucible deploy`): `{everySeconds}` or `{cron, timezone?}`. */
  schedule?: { everySeconds: number } | { cron: string; timezone?: string };
  /** A monitor deployed paused (false) or running (true); absent: as it is. */
  enabled?: boolean;
}

export const TEST_TYPES: readonly TestType[] = Object.values(TestTypes);

/** The body of `POST /api/test/run`: fields the user did not give are left out, for the server's defaults. */
export function runTestBody(spec: CheckSpec): Record<string, unknown> {
  const body: Record<string, unknown> = { testType: spec.type, url: spec.target };
  if (spec.name !== undefined) body.name = spec.name;
  if (spec.priority !== undefined) body.priority = spec.priority;
  if (spec.config && Object.keys(spec.config).length > 0) body.config = spec.config;
  if (spec.thresholds && spec.thresholds.length > 0) body.thresholds = spec.thresholds;
  if (spec.runs !== undefined) body.runs = spec.runs;
  if (spec.baseline !== undefined) body.baseline = spec.baseline;
  if (spec.failOnRegression) body.failOnRegression = true;
  return body;
}

/** `key=value`: the value as JSON when it is JSON (`3`, `true`, `{"a":1}`), else the text itself. */
function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** Sets `a.b.c` in `target`, creating the objects on the way. */
function setPath(target: Record<string, unknown>, path: string[], value: unknown, original: string): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === undefined) node[key] = {};
    else if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      throw new CliError(ExitCode.USAGE, `--config ${original}: ${key} is already a value, not an object`);
    }
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

/** `--config-file` (JSON or YAML) first, then each `--config key=value` over it. */
export function buildConfig(pairs: string[], file: string | undefined): Record<string, unknown> {
  const config = file ? readObjectFile(file, '--config-file') : {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq > 0 ? pair.slice(0, eq) : '';
    const path = key.split('.');
    if (!key || path.some((part) => part === '')) {
      throw new CliError(
        ExitCode.USAGE,
        `--config "${pair}": expected key=value (a.b=value for nested keys)`,
      );
    }
    setPath(config, path, parseValue(pair.slice(eq + 1)), pair);
  }
  return config;
}

/** A JSON or YAML file (by its extension) that must hold an object. */
export function readObjectFile(file: string, what: string): Record<string, unknown> {
  const value = readDataFile(file, what);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CliError(ExitCode.USAGE, `${what} ${file}: expected an object`);
  }
  return value as Record<string, unknown>;
}

/** A JSON or YAML file, parsed by a real parser; a missing or unreadable file is a usage error. */
export function readDataFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(ExitCode.USAGE, `${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const yaml = /\.ya?ml$/i.test(file);
  try {
    return yaml ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new CliError(
      ExitCode.USAGE,
      `${what} ${file}: not valid ${yaml ? 'YAML' : 'JSON'}: ${(err as Error).message.split('\n')[0]}`,
    );
  }
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** `90`, `90s`, `10m`, `1h`, `500ms` → milliseconds (a bare number is seconds). */
export function parseDuration(raw: string, flag = '--timeout'): number {
  const match = DURATION.exec(raw.trim());
  if (!match)
    throw new CliError(ExitCode.USAGE, `${flag} "${raw}": expected a duration such as 90s, 10m or 1h`);
  const ms = Number(match[1]) * UNIT_MS[(match[2] ?? 's') as keyof typeof UNIT_MS];
  if (!(ms > 0)) throw new CliError(ExitCode.USAGE, `${flag} "${raw}": must be more than 0`);
  return ms;
}

/** An integer flag within bounds. */
export function parseIntFlag(raw: string, flag: string, min: number, max: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new CliError(ExitCode.USAGE, `${flag} "${raw}": expected a whole number from ${min} to ${max}`);
  }
  return n;
}
