import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { TypeCheck } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { Static, TSchema } from '@sinclair/typebox';

/** The five test types a user can submit (DESIGN.md, "Test types"). */
export const TestTypes = {
  PERFORMANCE: 'performance',
  STRESS: 'stress',
  API: 'api',
  SEO: 'seo',
  SECURITY: 'security',
} as const;

export type TestType = (typeof TestTypes)[keyof typeof TestTypes];

export const TestStatuses = {
  QUEUED: 'queued',
  RUNNING: 'running',
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
} as const;

export type TestStatus = (typeof TestStatuses)[keyof typeof TestStatuses];

export const FINISHED_STATUSES: readonly TestStatus[] = ['completed', 'failed', 'cancelled'];

/**
 * What a completed test's own checks say: `failed` when any of them failed, `passed` when there
 * was something to judge and all of it held, `none` when there was nothing to judge. A test that
 * has not completed has no verdict (null).
 */
export const Verdicts = {
  PASSED: 'passed',
  FAILED: 'failed',
  NONE: 'none',
} as const;

export type Verdict = (typeof Verdicts)[keyof typeof Verdicts];

/** An object's own field, or undefined: results are read as stored JSON, never trusted. */
const field = (value: unknown, name: string): unknown =>
  value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[name] : undefined;

/** api: every step answered and every assertion held; judged only when something was asserted or a step failed. */
function apiVerdict(result: unknown): Verdict {
  if (field(result, 'passed') === false) return 'failed';
  const assertions = field(field(result, 'totals'), 'assertions');
  return typeof assertions === 'number' && assertions > 0 ? 'passed' : 'none';
}

/** stress: the config's thresholds (`p95Ms`, `p99Ms`, `errorRatePct`, `minRps`), when any was set. */
function stressVerdict(result: unknown): Verdict {
  const thresholds = field(result, 'thresholds');
  if (!Array.isArray(thresholds) || thresholds.length === 0) return 'none';
  return field(result, 'passed') === true ? 'passed' : 'failed';
}

const judgesNothing = (): Verdict => 'none';

const Headers = Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 8192 }), {
  maxProperties: 50,
});
const HttpMethod = Type.Union(
  ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].map((m) => Type.Literal(m)),
);

export const PerformanceConfig = Type.Object(
  {
    iterations: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, default: 3 })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 60_000, default: 15_000 })),
  },
  { additionalProperties: false },
);

export const StressConfig = Type.Object(
  {
    connections: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 10 })),
    durationSec: Type.Optional(Type.Integer({ minimum: 1, maximum: 600, default: 10 })),
    rampUpSec: Type.Optional(Type.Integer({ minimum: 0, maximum: 300, default: 0 })),
    mode: Type.Optional(
      Type.Union([Type.Literal('load'), Type.Literal('stress'), Type.Literal('spike')], { default: 'load' }),
    ),
    method: Type.Optional(HttpMethod),
    headers: Type.Optional(Headers),
    body: Type.Optional(Type.String({ maxLength: 65_536 })),
    rate: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
    thresholds: Type.Optional(
      Type.Object(
        {
          p95Ms: Type.Optional(Type.Number({ minimum: 0 })),
          p99Ms: Type.Optional(Type.Number({ minimum: 0 })),
          errorRatePct: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
          minRps: Type.Optional(Type.Number({ minimum: 0 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const ApiAssertion = Type.Object(
  {
    status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599 })),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    json: Type.Optional(
      Type.Array(Type.Object({ path: Type.String({ maxLength: 256 }), equals: Type.Unknown() }), {
        maxItems: 50,
      }),
    ),
    bodyContains: Type.Optional(Type.String({ maxLength: 4096 })),
    maxTimeMs: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);

export const ApiConfig = Type.Object(
  {
    steps: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 200 }),
            method: Type.Optional(HttpMethod),
            url: Type.Optional(Type.String({ maxLength: 2048 })),
            path: Type.Optional(Type.String({ maxLength: 2048 })),
            headers: Type.Optional(Headers),
            body: Type.Optional(Type.Unknown()),
            capture: Type.Optional(
              Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 256 })),
            ),
            assert: Type.Optional(ApiAssertion),
          },
          { additionalProperties: false },
        ),
        { minItems: 1, maxItems: 50 },
      ),
    ),
  },
  { additionalProperties: false },
);

export const SeoConfig = Type.Object(
  { checkLinks: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, default: 20 })) },
  { additionalProperties: false },
);

export const SecurityConfig = Type.Object({}, { additionalProperties: false });

export interface CatalogEntry<S extends TSchema = TSchema> {
  type: TestType;
  /** Validated at submission; the worker receives the validated config. */
  configSchema: S;
  /** Wall-clock bound of one attempt, from the validated config. */
  timeoutMs(config: Static<S>): number;
  /** Total attempts for transient failures (engine crash, worker lost). */
  attempts: number;
  /** The verdict of a completed test from its engine's result. */
  verdict(result: unknown): Verdict;
}

/** The job catalogue: the API validates with it and the worker dispatches with it. */
export const TestCatalog = {
  performance: {
    type: 'performance',
    configSchema: PerformanceConfig,
    timeoutMs: (c: Static<typeof PerformanceConfig>) => (c.iterations ?? 3) * (c.timeoutMs ?? 15_000) + 5_000,
    attempts: 3,
    verdict: judgesNothing,
  },
  stress: {
    type: 'stress',
    configSchema: StressConfig,
    timeoutMs: (c: Static<typeof StressConfig>) =>
      ((c.durationSec ?? 10) + (c.rampUpSec ?? 0)) * 1000 + 30_000,
    attempts: 3,
    verdict: stressVerdict,
  },
  // Each api step may take 30 s; seo fetches the page, robots, sitemap and up to 100 links (4 at
  // once, 10 s each); security makes four requests of at most 15 s.
  api: {
    type: 'api',
    configSchema: ApiConfig,
    timeoutMs: (c: Static<typeof ApiConfig>) => (c.steps?.length ?? 1) * 30_000 + 10_000,
    attempts: 3,
    verdict: apiVerdict,
  },
  // Findings and scores judge nothing by themselves (a threshold on them would: issue 21).
  seo: {
    type: 'seo',
    configSchema: SeoConfig,
    timeoutMs: () => 120_000,
    attempts: 3,
    verdict: judgesNothing,
  },
  security: {
    type: 'security',
    configSchema: SecurityConfig,
    timeoutMs: () => 90_000,
    attempts: 3,
    verdict: judgesNothing,
  },
} as const satisfies Record<TestType, CatalogEntry>;

/** The verdict of a completed test of `testType` whose engine returned `result`. */
export function verdictOf(testType: TestType, result: unknown): Verdict {
  return (TestCatalog[testType] as CatalogEntry).verdict(result);
}

export type PerformanceConfig = Static<typeof PerformanceConfig>;
export type StressConfig = Static<typeof StressConfig>;
export type ApiConfig = Static<typeof ApiConfig>;
export type SeoConfig = Static<typeof SeoConfig>;
export type SecurityConfig = Static<typeof SecurityConfig>;

/** The data a queued job carries: the row is the record, this is just enough to run it. */
export interface TestJobData {
  testId: string;
  testType: TestType;
  url: string;
  config: Record<string, unknown>;
  userId: string | null;
  /** Which run of the test this job is (manual re-runs count up). @defaultValue 0 */
  run?: number;
}

/** The BullMQ queue every test goes through. */
export const TEST_QUEUE_NAME = 'tests';
/** BullMQ priority: 1 is its highest. Ours: 10 is highest. */
export function toBullPriority(priority: number): number {
  return 11 - priority;
}

/** BullMQ key prefix of a deployment: its queues live under `{prefix}:bull:{queue}:*`. */
export function bullPrefix(prefix: string): string {
  return `${prefix}:bull`;
}

const configValidators = new Map<TestType, TypeCheck<TSchema>>();

/** Thrown by {@link validateTestConfig}; `message` names the offending field. */
export class InvalidConfigError extends Error {
  readonly code = 'INVALID_CONFIG';
}

/**
 * Validates a test's config against its type's schema and fills defaults. The API calls it at
 * submission and the worker again before running (a job may come from an older API version).
 */
export function validateTestConfig(testType: TestType, config: unknown): Record<string, unknown> {
  const entry = TestCatalog[testType];
  if (!entry) throw new InvalidConfigError(`unknown test type ${String(testType)}`);
  let check = configValidators.get(testType);
  if (!check) configValidators.set(testType, (check = TypeCompiler.Compile(entry.configSchema as TSchema)));
  const value = Value.Default(entry.configSchema, structuredClone(config ?? {})) as Record<string, unknown>;
  if (!check.Check(value)) {
    const first = check.Errors(value).First();
    throw new InvalidConfigError(
      `config${first?.path.replaceAll('/', '.') ?? ''}: ${first?.message ?? 'invalid'}`,
    );
  }
  return value;
}
