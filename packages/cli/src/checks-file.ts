import { existsSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import type { Static, TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { TestCatalog, TestTypes } from '@crucible/contracts';
import { CronSchedule, EverySchedule } from '@crucible/contracts/api';
import type { TestType } from '@crucible/contracts';
import { CliError, ExitCode } from './exit-codes.js';
import { readDataFile } from './submission.js';
import type { CheckSpec } from './submission.js';

/** What every check has beside its `type` and that type's `config`. */
const checkFields = {
  name: Type.String({
    minLength: 1,
    maxLength: 200,
    description: 'Unique in the file; what --grep matches.',
  }),
  target: Type.String({ minLength: 1, maxLength: 2048, description: 'The URL to test.' }),
  thresholds: Type.Optional(
    Type.Array(
      Type.Union([
        Type.String({ minLength: 1 }),
        Type.Object(
          {
            expression: Type.String({ minLength: 1 }),
            abortOnFail: Type.Optional(Type.Boolean()),
            delayAbortEval: Type.Optional(Type.String({ minLength: 1 })),
          },
          {
            additionalProperties: false,
            description:
              'k6\'s form: `abortOnFail` stops a stress test as soon as it fails, judged from `delayAbortEval` (`"10s"`) on.',
          },
        ),
      ]),
      {
        maxItems: 20,
        description: '`<metric> <op> <number>`, e.g. `latency.p95 < 300`; the server names unknown metrics.',
      },
    ),
  ),
  runs: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 10, description: 'Measurements within the one test.' }),
  ),
  baseline: Type.Optional(
    Type.String({ minLength: 1, description: '`previous` or a test id to compare with.' }),
  ),
  failOnRegression: Type.Optional(
    Type.Boolean({ description: 'A regression against the baseline fails the check.' }),
  ),
  priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
  schedule: Type.Optional(
    Type.Union([EverySchedule, CronSchedule], {
      description:
        'Makes the check a monitor that `crucible deploy` creates: `{everySeconds}` or `{cron, timezone?}`.',
    }),
  ),
  enabled: Type.Optional(
    Type.Boolean({
      description: 'A monitor only: false deploys it paused; absent leaves a deployed one as it is.',
    }),
  ),
};

const checkOf = (type: TestType, config: TObject) =>
  Type.Object(
    { ...checkFields, type: Type.Literal(type), config: Type.Optional(config) },
    { additionalProperties: false, title: `${type} check` },
  );

/** One check: its `config` is the catalogue's config schema of its `type`, as the API validates it. */
export const Check = Type.Union(
  Object.values(TestTypes).map((type) => checkOf(type, TestCatalog[type].configSchema as TObject)),
);

/** `crucible.checks.json` / `.yaml`: published as `schemas/checks.schema.json`. */
export const ChecksFile = Type.Object(
  {
    $schema: Type.Optional(Type.String({ description: 'Where editors find this schema.' })),
    checks: Type.Array(Check, { minItems: 1 }),
  },
  { additionalProperties: false, title: 'Crucible checks file' },
);
export type ChecksFile = Static<typeof ChecksFile>;

/** Finds the file's first problem with a path a person can follow (`checks[1].type`). */
function firstProblem(value: unknown): string | undefined {
  const root = value as { checks?: unknown };
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return 'expected an object with "checks"';
  if (!Array.isArray(root.checks)) return '"checks" must be a list of checks';
  if (root.checks.length === 0) return '"checks" is empty';
  for (const [i, check] of root.checks.entries()) {
    const type = (check as { type?: unknown } | null)?.type;
    if (typeof type !== 'string' || !(Object.values(TestTypes) as string[]).includes(type)) {
      return `checks[${i}].type must be one of: ${Object.values(TestTypes).join(', ')}`;
    }
    const schema = checkOf(type as TestType, TestCatalog[type as TestType].configSchema as TObject);
    const error = Value.Errors(schema, check).First();
    if (error) return `checks[${i}]${error.path.replace(/\//g, '.')}: ${error.message}`;
  }
  for (const key of Object.keys(value))
    if (key !== 'checks' && key !== '$schema') return `unknown field "${key}"`;
  return undefined;
}

/** Where a checks file is looked for without `--file`, in this order. */
export const DEFAULT_CHECKS_FILES = ['crucible.checks.yaml', 'crucible.checks.yml', 'crucible.checks.json'];

/** `--file`, else the first of {@link DEFAULT_CHECKS_FILES} in the working directory. */
export function checksFilePath(flag: string | undefined): string {
  if (flag !== undefined) return flag;
  const found = DEFAULT_CHECKS_FILES.find((f) => existsSync(f));
  if (!found)
    throw new CliError(
      ExitCode.USAGE,
      `no checks file here: ${DEFAULT_CHECKS_FILES.join(', ')} (or pass --file)`,
    );
  return found;
}

/** Reads and validates a checks file; a bad one is a usage error naming the first problem. */
export function loadChecksFile(file: string): CheckSpec[] {
  const value = readDataFile(file, 'checks file');
  const problem = firstProblem(value);
  if (problem) throw new CliError(ExitCode.USAGE, `checks file ${file}: ${problem}`);
  const checks = (value as ChecksFile).checks;
  const names = new Set<string>();
  for (const check of checks) {
    if (names.has(check.name))
      throw new CliError(ExitCode.USAGE, `checks file ${file}: two checks are named "${check.name}"`);
    names.add(check.name);
  }
  return checks.map((c) => ({ ...c, config: c.config as Record<string, unknown> | undefined }));
}

/** `--grep`: a regular expression (case-insensitive) on the checks' names. */
export function grepChecks(checks: CheckSpec[], pattern: string | undefined): CheckSpec[] {
  if (pattern === undefined) return checks;
  let re: RegExp;
  try {
    re = new RegExp(pattern, 'i');
  } catch (err) {
    throw new CliError(ExitCode.USAGE, `--grep "${pattern}": ${(err as Error).message}`);
  }
  const picked = checks.filter((c) => re.test(c.name ?? ''));
  if (picked.length === 0) throw new CliError(ExitCode.USAGE, `--grep "${pattern}" matches no check`);
  return picked;
}
