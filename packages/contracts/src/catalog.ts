import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { TypeCheck } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { Static, TObject, TSchema } from '@sinclair/typebox';
import { MetricCatalog, metricsSchema } from './metrics.js';
import type { MetricSpec } from './metrics.js';
import { ThresholdAbort, ThresholdResult } from './thresholds.js';
import { ComparisonEntry } from './comparison.js';
import type { Judging } from './judging.js';

/** The five test types a user can submit (DESIGN.md, "Test types"). */
export const TestTypes = {
  PERFORMANCE: 'performance',
  STRESS: 'stress',
  API: 'api',
  SEO: 'seo',
  SECURITY: 'security',
  BROWSER: 'browser',
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

/** A status no test leaves on its own (only a manual retry or re-run starts it again). */
export type FinishedStatus = Extract<TestStatus, 'completed' | 'failed' | 'cancelled'>;

export const FINISHED_STATUSES: readonly FinishedStatus[] = ['completed', 'failed', 'cancelled'];

/** Whether a test with this status has finished (completed, failed or cancelled). */
export function isFinished(status: TestStatus): status is FinishedStatus {
  return (FINISHED_STATUSES as readonly TestStatus[]).includes(status);
}

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

/**
 * api: every step answered and every assertion held; judged only when something was asserted or
 * a step failed (null: nothing of its own to judge).
 */
function apiChecks(result: unknown): boolean | null {
  if (field(result, 'passed') === false) return false;
  const assertions = field(field(result, 'totals'), 'assertions');
  return typeof assertions === 'number' && assertions > 0 ? true : null;
}

// Stress's config thresholds are judged as threshold expressions (result.thresholds), and seo and
// security findings judge nothing by themselves: a threshold on their metrics does.
const noChecksOfItsOwn = (): boolean | null => null;

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
    /**
     * Worker jobs the load is split into, started together and merged into one result
     * (connections and rate divided between them; bounded by `STRESS_MAX_SHARDS`). @defaultValue 1
     */
    shards: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, default: 1 })),
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

/** Lighthouse's four categories, in its report's order. */
export const BrowserCategories = ['performance', 'accessibility', 'best-practices', 'seo'] as const;
export type BrowserCategory = (typeof BrowserCategories)[number];

export const BrowserConfig = Type.Object(
  {
    /** Lighthouse's emulation: a mid-range phone on a slow 4G link, or a desktop on cable. */
    device: Type.Optional(
      Type.Union([Type.Literal('desktop'), Type.Literal('mobile')], { default: 'mobile' }),
    ),
    categories: Type.Optional(
      Type.Array(Type.Union(BrowserCategories.map((c) => Type.Literal(c))), {
        minItems: 1,
        maxItems: 4,
        uniqueItems: true,
        default: [...BrowserCategories],
      }),
    ),
    /** Page loads; the result is the median one by Lighthouse's rule (closest to the median FCP and TTI). */
    runs: Type.Optional(Type.Integer({ minimum: 1, maximum: 5, default: 3 })),
    /**
     * How load is slowed: `simulate` (Lighthouse's default, modelled from an unthrottled load),
     * `devtools` (the browser really throttled) or `none` (what this machine sees).
     */
    throttling: Type.Optional(
      Type.Union([Type.Literal('simulate'), Type.Literal('devtools'), Type.Literal('none')], {
        default: 'simulate',
      }),
    ),
    /** Wait for the network to be quiet before the page counts as loaded (Lighthouse does by default). */
    waitForNetworkIdle: Type.Optional(Type.Boolean({ default: true })),
    headers: Type.Optional(Headers),
  },
  { additionalProperties: false },
);

// What each engine returns, stored as the test's `result` (apps/worker/src/engines/*.engine.ts
// derive their result types from these, so the two cannot drift). The API serializes a result as
// stored, whatever its shape; these schemas are what the OpenAPI document shows for it. Every
// object is closed (`additionalProperties: false`) so a field an engine adds without adding it
// here fails the schema check of the api tests rather than going undocumented.

const closed = { additionalProperties: false } as const;
const NullableString = Type.Union([Type.String(), Type.Null()]);
const NullableInteger = Type.Union([Type.Integer(), Type.Null()]);
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);
/** Occurrences by key: status code, error kind. */
const Counts = Type.Record(Type.String(), Type.Integer({ minimum: 0 }));

/** How much of a bounded input was looked at: its first `max` items, `reached` when there were more. */
export const PageCap = Type.Object({ max: Type.Integer(), reached: Type.Boolean() }, closed);
export type PageCap = Static<typeof PageCap>;

/** Milliseconds of one request's phases (`total` from the first byte sent to the last read). */
const RequestTimings = Type.Object(
  {
    dns: Type.Number(),
    connect: Type.Number(),
    tls: Type.Number(),
    ttfb: Type.Number(),
    download: Type.Number(),
    total: Type.Number(),
  },
  closed,
);

/** One timing phase over the successful requests, in milliseconds. */
export const PhaseSummary = Type.Object(
  { min: Type.Number(), max: Type.Number(), mean: Type.Number(), median: Type.Number(), p95: Type.Number() },
  closed,
);
export type PhaseSummary = Static<typeof PhaseSummary>;

export const PerformanceIteration = Type.Union([
  Type.Object(
    {
      iteration: Type.Integer(),
      ok: Type.Literal(true),
      status: Type.Integer(),
      /** Body bytes on the wire (compressed when `contentEncoding` is set). */
      bytes: Type.Integer(),
      truncated: Type.Boolean(),
      contentEncoding: NullableString,
      contentType: NullableString,
      httpVersion: Type.String(),
      remoteAddress: Type.String(),
      redirects: Type.Integer(),
      timings: RequestTimings,
    },
    closed,
  ),
  Type.Object(
    { iteration: Type.Integer(), ok: Type.Literal(false), error: Type.String(), code: Type.String() },
    closed,
  ),
]);
export type PerformanceIteration = Static<typeof PerformanceIteration>;

const ResourceKind = Type.Union([
  Type.Literal('script'),
  Type.Literal('stylesheet'),
  Type.Literal('image'),
  Type.Literal('font'),
]);
export type ResourceKind = Static<typeof ResourceKind>;

export const PerformanceResource = Type.Object(
  {
    url: Type.String(),
    kind: ResourceKind,
    status: NullableInteger,
    /** Bytes on the wire, null when it could not be fetched. */
    bytes: NullableInteger,
    contentEncoding: NullableString,
    durationMs: NullableNumber,
    error: Type.Optional(Type.String()),
  },
  closed,
);
export type PerformanceResource = Static<typeof PerformanceResource>;

const ResourceTally = Type.Object(
  { count: Type.Integer(), fetched: Type.Integer(), bytes: Type.Integer() },
  closed,
);

export const PerformanceResources = Type.Object(
  {
    /** Per kind: how many the page references, how many were fetched, their bytes on the wire. */
    byKind: Type.Object(
      { script: ResourceTally, stylesheet: ResourceTally, image: ResourceTally, font: ResourceTally },
      closed,
    ),
    total: Type.Object(
      { count: Type.Integer(), fetched: Type.Integer(), bytes: Type.Integer(), failed: Type.Integer() },
      closed,
    ),
    items: Type.Array(PerformanceResource),
  },
  closed,
);
export type PerformanceResources = Static<typeof PerformanceResources>;

export const ScoreFactor = Type.Object(
  { name: Type.String(), points: Type.Integer(), max: Type.Integer(), detail: Type.String() },
  closed,
);
export type ScoreFactor = Static<typeof ScoreFactor>;

export const PerformanceResult = Type.Object(
  {
    url: Type.String(),
    /** The URL that answered after redirects (of the first successful request). */
    finalUrl: Type.String(),
    iterations: Type.Array(PerformanceIteration),
    /** Per phase over the successful requests: min, max, mean, median, p95. */
    summary: Type.Object(
      {
        dns: PhaseSummary,
        connect: PhaseSummary,
        tls: PhaseSummary,
        ttfb: PhaseSummary,
        download: PhaseSummary,
        total: PhaseSummary,
      },
      closed,
    ),
    /** Count of each HTTP status among the successful requests. */
    statusCodes: Counts,
    requests: Type.Object(
      { total: Type.Integer(), succeeded: Type.Integer(), failed: Type.Integer() },
      closed,
    ),
    /** Of the first successful response, on the wire. */
    bytes: Type.Integer(),
    /** Of the first successful response once decompressed. */
    decodedBytes: Type.Integer(),
    contentEncoding: NullableString,
    contentType: NullableString,
    httpVersion: Type.String(),
    resources: PerformanceResources,
    /** 0–100, the sum of `scoreFactors`' points. */
    score: Type.Integer({ minimum: 0, maximum: 100 }),
    scoreFactors: Type.Array(ScoreFactor),
    /** What of the document was looked at for resources: its first `max` elements and resources. */
    limits: Type.Object({ elements: PageCap, resources: PageCap }, closed),
  },
  closed,
);
export type PerformanceResult = Static<typeof PerformanceResult>;

/** Milliseconds. */
export const StressLatency = Type.Object(
  {
    min: Type.Number(),
    mean: Type.Number(),
    stddev: Type.Number(),
    p50: Type.Number(),
    p75: Type.Number(),
    p90: Type.Number(),
    p95: Type.Number(),
    p99: Type.Number(),
    p999: Type.Number(),
    max: Type.Number(),
  },
  closed,
);
export type StressLatency = Static<typeof StressLatency>;

export const StressSecond = Type.Object(
  {
    second: Type.Integer(),
    /** Responses and transport errors completed during this second. */
    requests: Type.Integer(),
    rps: Type.Number(),
    p50: Type.Number(),
    p95: Type.Number(),
    p99: Type.Number(),
    errors: Type.Integer(),
    errorsByKind: Counts,
    statusCodes: Counts,
    /** Open connections at the end of the second. */
    connections: Type.Integer(),
    /** Virtual users the schedule allowed at the end of the second. */
    active: Type.Integer(),
  },
  closed,
);
export type StressSecond = Static<typeof StressSecond>;

export const StressThresholdVerdict = Type.Object(
  {
    name: Type.Union([
      Type.Literal('p95Ms'),
      Type.Literal('p99Ms'),
      Type.Literal('errorRatePct'),
      Type.Literal('minRps'),
    ]),
    limit: Type.Number(),
    /** null when there was nothing to measure (a latency threshold and no response at all). */
    actual: NullableNumber,
    passed: Type.Boolean(),
  },
  closed,
);
export type StressThresholdVerdict = Static<typeof StressThresholdVerdict>;

/** What one shard of a sharded stress test did (one entry per try: a lost shard's replacement is another). */
export const StressShardTotals = Type.Object(
  {
    /** 1-based. */
    shard: Type.Integer({ minimum: 1 }),
    /** 1 for the shard's first job; a replacement of a lost one counts up. */
    try: Type.Integer({ minimum: 1 }),
    /** The worker process that ran it. */
    worker: Type.String(),
    /** `lost`: its worker stopped answering; its figures are those it reported until then. */
    status: Type.Union([Type.Literal('completed'), Type.Literal('lost')]),
    connections: Type.Integer(),
    requests: Type.Integer(),
    failed: Type.Integer(),
    rps: Type.Number(),
    /** Of this shard's responses alone, ms; null without any. */
    p95: NullableNumber,
  },
  closed,
);
export type StressShardTotals = Static<typeof StressShardTotals>;

export const StressResult = Type.Object(
  {
    url: Type.String(),
    mode: Type.Union([Type.Literal('load'), Type.Literal('stress'), Type.Literal('spike')]),
    method: Type.String(),
    /** What ran after the server-side limits; `capped` when they cut the request. */
    limits: Type.Object(
      {
        connections: Type.Integer(),
        durationSec: Type.Integer(),
        rampUpSec: Type.Integer(),
        rate: NullableInteger,
        capped: Type.Boolean(),
      },
      closed,
    ),
    totals: Type.Object(
      {
        /** Every request completed: responses plus transport errors. */
        requests: Type.Integer(),
        responses: Type.Integer(),
        /** 2xx and 3xx. */
        succeeded: Type.Integer(),
        /** Transport errors and 4xx/5xx. */
        failed: Type.Integer(),
        bytes: Type.Integer(),
        durationSec: Type.Number(),
        rps: Type.Number(),
      },
      closed,
    ),
    /** null when no response came back. */
    latency: Type.Union([StressLatency, Type.Null()]),
    statusCodes: Counts,
    /** By kind: a transport error's code, or `HTTP <status>` for 4xx/5xx. */
    errors: Counts,
    errorRatePct: Type.Number(),
    series: Type.Array(StressSecond),
    /** One per threshold of the config. */
    thresholds: Type.Array(StressThresholdVerdict),
    /** Every threshold held (true when none was set). */
    passed: Type.Boolean(),
    /** A sharded test (`shards` > 1): each shard's own totals beside the merged figures above. */
    shards: Type.Optional(Type.Array(StressShardTotals)),
    /**
     * Shards whose load stopped before the end (their worker lost, no time left to replace them):
     * the result is partial, and says so. Absent or empty: every shard ran to the end.
     */
    lostShards: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }))),
    /**
     * The `abortOnFail` threshold that failed live and stopped the load (every shard) early: the
     * result is the partial one up to then, and the test's verdict is failed.
     */
    aborted: Type.Optional(ThresholdAbort),
    summary: Type.Object(
      {
        requests: Type.Integer(),
        rps: Type.Number(),
        p95: NullableNumber,
        errorRatePct: Type.Number(),
        passed: Type.Boolean(),
      },
      closed,
    ),
  },
  closed,
);
export type StressResult = Static<typeof StressResult>;

export const ApiAssertionResult = Type.Object(
  {
    /** `status`, `header:<name>`, `json:<path>`, `bodyContains`, `maxTimeMs`. */
    check: Type.String(),
    expected: Type.Unknown(),
    actual: Type.Unknown(),
    passed: Type.Boolean(),
  },
  closed,
);
export type ApiAssertionResult = Static<typeof ApiAssertionResult>;

export const ApiStepResult = Type.Object(
  {
    name: Type.String(),
    method: Type.String(),
    /** Empty when the step's URL could not be built. */
    url: Type.String(),
    status: NullableInteger,
    durationMs: NullableNumber,
    passed: Type.Boolean(),
    assertions: Type.Array(ApiAssertionResult),
    /** Variables this step captured, by name. */
    captured: Type.Record(Type.String(), Type.Unknown()),
    /** Why the step could not be sent or read. */
    error: Type.Optional(Type.String()),
  },
  closed,
);
export type ApiStepResult = Static<typeof ApiStepResult>;

export const ApiResult = Type.Object(
  {
    url: Type.String(),
    passed: Type.Boolean(),
    totals: Type.Object(
      {
        steps: Type.Integer(),
        passed: Type.Integer(),
        failed: Type.Integer(),
        assertions: Type.Integer(),
        assertionsFailed: Type.Integer(),
      },
      closed,
    ),
    steps: Type.Array(ApiStepResult),
    summary: Type.Object({ passed: Type.Boolean(), steps: Type.Integer(), failed: Type.Integer() }, closed),
  },
  closed,
);
export type ApiResult = Static<typeof ApiResult>;

export const SeoCheckStatus = Type.Union([Type.Literal('pass'), Type.Literal('warn'), Type.Literal('fail')]);
export type SeoCheckStatus = Static<typeof SeoCheckStatus>;
const SeoCounts = Type.Object({ pass: Type.Integer(), warn: Type.Integer(), fail: Type.Integer() }, closed);

export const SeoCheck = Type.Object(
  {
    id: Type.String(),
    group: Type.Union([
      Type.Literal('content'),
      Type.Literal('headings'),
      Type.Literal('social'),
      Type.Literal('images'),
      Type.Literal('links'),
      Type.Literal('technical'),
      Type.Literal('structured-data'),
    ]),
    status: SeoCheckStatus,
    message: Type.String(),
    /** What to do about it (absent when the check passed). */
    recommendation: Type.Optional(Type.String()),
    /** The evidence: the value found, the offending elements. */
    value: Type.Optional(Type.Unknown()),
  },
  closed,
);
export type SeoCheck = Static<typeof SeoCheck>;

export const SeoLinkReport = Type.Object(
  {
    total: Type.Integer(),
    internal: Type.Integer(),
    external: Type.Integer(),
    nofollow: Type.Integer(),
    /** Links whose status was checked (at most `checkLinks`). */
    checked: Type.Integer(),
    broken: Type.Array(
      Type.Object(
        { url: Type.String(), status: NullableInteger, error: Type.Optional(Type.String()) },
        closed,
      ),
    ),
  },
  closed,
);
export type SeoLinkReport = Static<typeof SeoLinkReport>;

export const SeoResult = Type.Object(
  {
    url: Type.String(),
    finalUrl: Type.String(),
    status: Type.Integer(),
    /** 0–100: passes count 1, warnings ½, failures 0. */
    score: Type.Integer({ minimum: 0, maximum: 100 }),
    counts: SeoCounts,
    checks: Type.Array(SeoCheck),
    links: SeoLinkReport,
    /** Every recommendation, failures first. */
    recommendations: Type.Array(Type.String()),
    summary: Type.Object({ score: Type.Integer(), counts: SeoCounts }, closed),
    /** What of the page was looked at: its first `max` bytes, elements and links. */
    limits: Type.Object({ bytes: PageCap, elements: PageCap, links: PageCap }, closed),
  },
  closed,
);
export type SeoResult = Static<typeof SeoResult>;

export const SecuritySeverity = Type.Union([
  Type.Literal('high'),
  Type.Literal('medium'),
  Type.Literal('low'),
  Type.Literal('info'),
]);
export type SecuritySeverity = Static<typeof SecuritySeverity>;
const SeverityCounts = Type.Object(
  { high: Type.Integer(), medium: Type.Integer(), low: Type.Integer(), info: Type.Integer() },
  closed,
);

export const SecurityFinding = Type.Object(
  {
    id: Type.String(),
    category: Type.Union([
      Type.Literal('headers'),
      Type.Literal('cookies'),
      Type.Literal('tls'),
      Type.Literal('cors'),
      Type.Literal('methods'),
      Type.Literal('mixed-content'),
      Type.Literal('disclosure'),
      Type.Literal('transport'),
    ]),
    severity: SecuritySeverity,
    title: Type.String(),
    /** What was seen. */
    detail: Type.String(),
    /** How to fix it. */
    fix: Type.String(),
  },
  closed,
);
export type SecurityFinding = Static<typeof SecurityFinding>;

export const SecurityResult = Type.Object(
  {
    url: Type.String(),
    finalUrl: Type.String(),
    status: Type.Integer(),
    /** 100 minus 25 per high, 10 per medium, 3 per low finding (never below 0). */
    score: Type.Integer({ minimum: 0, maximum: 100 }),
    counts: SeverityCounts,
    findings: Type.Array(SecurityFinding),
    /** The security headers (strict-transport-security, content-security-policy, x-frame-options, x-content-type-options, referrer-policy, permissions-policy) as the site sent them; null: absent. */
    headers: Type.Record(Type.String(), NullableString),
    cookies: Type.Array(
      Type.Object(
        { name: Type.String(), secure: Type.Boolean(), httpOnly: Type.Boolean(), sameSite: NullableString },
        closed,
      ),
    ),
    /** null over plain HTTP. */
    tls: Type.Union([
      Type.Object(
        {
          /** e.g. `TLSv1.3`. */
          protocol: NullableString,
          cipher: NullableString,
          /** Whether the chain verified and the name matched. */
          authorized: Type.Boolean(),
          authorizationError: NullableString,
          /** Whether the certificate names the host (judged even when the chain did not verify). */
          hostMatches: Type.Boolean(),
          certificate: Type.Union([
            Type.Object(
              {
                subject: NullableString,
                issuer: NullableString,
                subjectAltName: NullableString,
                validFrom: Type.String(),
                validTo: Type.String(),
                fingerprint256: Type.String(),
              },
              closed,
            ),
            Type.Null(),
          ]),
          /** Whole days until the certificate expires (negative: expired); null when unknown. */
          expiresInDays: NullableInteger,
        },
        closed,
      ),
      Type.Null(),
    ]),
    /** How the site answered a request from a foreign `Origin`. */
    cors: Type.Object({ allowOrigin: NullableString, allowCredentials: Type.Boolean() }, closed),
    /** `Allow` of an OPTIONS request, and the status TRACE answered (null: no answer). */
    methods: Type.Object({ allow: NullableString, trace: NullableInteger }, closed),
    summary: Type.Object({ score: Type.Integer(), counts: SeverityCounts }, closed),
    /** What of an https page was searched for mixed content: its first `max` elements and findings. */
    limits: Type.Object({ elements: PageCap, resources: PageCap }, closed),
  },
  closed,
);
export type SecurityResult = Static<typeof SecurityResult>;

/** Web Vitals of one page load, as Lighthouse measured them (ms; CLS unitless); null: not measured. */
export const BrowserVitals = Type.Object(
  {
    lcp: NullableNumber,
    fcp: NullableNumber,
    cls: NullableNumber,
    tbt: NullableNumber,
    ttfb: NullableNumber,
    speedIndex: NullableNumber,
  },
  closed,
);
export type BrowserVitals = Static<typeof BrowserVitals>;

/** Lighthouse's category scores, 0–100; null for a category not asked for (or that errored). */
export const BrowserScores = Type.Object(
  {
    performance: NullableInteger,
    accessibility: NullableInteger,
    bestPractices: NullableInteger,
    seo: NullableInteger,
  },
  closed,
);
export type BrowserScores = Static<typeof BrowserScores>;

export const BrowserRun = Type.Object(
  {
    /** 1-based, in the order the loads ran. */
    run: Type.Integer({ minimum: 1 }),
    vitals: BrowserVitals,
    scores: BrowserScores,
    /** Lighthouse's runtime error of this load (e.g. NO_FCP), when it had one. */
    error: NullableString,
  },
  closed,
);
export type BrowserRun = Static<typeof BrowserRun>;

export const BrowserAudit = Type.Object(
  {
    id: Type.String(),
    title: Type.String(),
    /** Lighthouse's advice (markdown links kept). */
    description: Type.String(),
    /** 0–1; the lower, the worse. */
    score: Type.Number(),
    displayValue: NullableString,
    /** What fixing it would save, when Lighthouse estimates it: load time in ms. */
    savingsMs: NullableNumber,
    /** The first rows of the audit's details table (URLs, nodes, sizes), as Lighthouse gave them. */
    items: Type.Array(Type.Record(Type.String(), Type.Unknown())),
  },
  closed,
);
export type BrowserAudit = Static<typeof BrowserAudit>;

/** A request the page (or its scripts, frames, workers) made that the egress guard refused. */
export const BrowserRefusedRequest = Type.Object(
  {
    /** `http://host:port/path` for plain HTTP, `host:port` for a tunnel (HTTPS, WebSocket). */
    target: Type.String(),
    reason: Type.String(),
    /** How many times, over every run. */
    count: Type.Integer({ minimum: 1 }),
  },
  closed,
);
export type BrowserRefusedRequest = Static<typeof BrowserRefusedRequest>;

export const BrowserArtifactInfo = Type.Object(
  {
    /** Served at `GET /api/test/:testId/artifacts/:name`. */
    name: Type.String(),
    contentType: Type.String(),
    bytes: Type.Integer({ minimum: 0 }),
  },
  closed,
);
export type BrowserArtifactInfo = Static<typeof BrowserArtifactInfo>;

export const BrowserResult = Type.Object(
  {
    url: Type.String(),
    /** The URL the median run ended on (after redirects). */
    finalUrl: Type.String(),
    device: Type.Union([Type.Literal('desktop'), Type.Literal('mobile')]),
    throttling: Type.String(),
    lighthouseVersion: Type.String(),
    userAgent: Type.String(),
    /** Of the median run. */
    vitals: BrowserVitals,
    scores: BrowserScores,
    /** Every load, in order. */
    runs: Type.Array(BrowserRun),
    /** The run chosen as the result (Lighthouse's median-run rule). */
    medianRun: Type.Integer({ minimum: 1 }),
    /** Audits of the median run scoring below 0.9, the worst (and costliest) first. */
    failingAudits: Type.Array(BrowserAudit),
    refusedRequests: Type.Array(BrowserRefusedRequest),
    artifacts: Type.Array(BrowserArtifactInfo),
    summary: Type.Object(
      { performance: NullableInteger, lcp: NullableNumber, cls: NullableNumber, runs: Type.Integer() },
      closed,
    ),
  },
  closed,
);
export type BrowserResult = Static<typeof BrowserResult>;

/**
 * A result as stored: what the engine returned plus what the worker derives from it — the
 * catalogue's metrics and the thresholds judged on them (issue 21). Stress's own `thresholds`
 * (from `config.thresholds`) are stored translated into the threshold language, first.
 */
function stored<T extends TObject>(testType: TestType, engineResult: T) {
  return Type.Object(
    {
      ...engineResult.properties,
      /** Every catalogue metric of the type, by name. */
      metrics: metricsSchema(testType),
      /** Each threshold judged, in the order given (stress's config thresholds first). */
      thresholds: Type.Array(ThresholdResult),
      /** With a baseline that had metrics: each metric both measured, compared with it. */
      comparison: Type.Optional(Type.Array(ComparisonEntry)),
    },
    { additionalProperties: false, title: `${testType} result` },
  );
}

export interface CatalogEntry<S extends TSchema = TSchema, R extends TSchema = TSchema> {
  type: TestType;
  /** Validated at submission; the worker receives the validated config. */
  configSchema: S;
  /** The test's `result` as stored: the engine's result and its metrics (shown in the OpenAPI document). */
  resultSchema: R;
  /** What the type measures, by name: what thresholds and comparisons refer to. */
  metrics: readonly MetricSpec[];
  /** Wall-clock bound of one attempt, from the validated config. */
  timeoutMs(config: Static<S>): number;
  /** Total attempts for transient failures (engine crash, worker lost). */
  attempts: number;
  /** What the engine's own checks say of its result: null when it checked nothing. */
  ownChecks(result: unknown): boolean | null;
}

/** The job catalogue: the API validates with it and the worker dispatches with it. */
export const TestCatalog = {
  performance: {
    type: 'performance',
    configSchema: PerformanceConfig,
    resultSchema: stored('performance', PerformanceResult),
    metrics: MetricCatalog.performance,
    timeoutMs: (c: Static<typeof PerformanceConfig>) => (c.iterations ?? 3) * (c.timeoutMs ?? 15_000) + 5_000,
    attempts: 3,
    ownChecks: noChecksOfItsOwn,
  },
  stress: {
    type: 'stress',
    configSchema: StressConfig,
    resultSchema: stored('stress', StressResult),
    metrics: MetricCatalog.stress,
    timeoutMs: (c: Static<typeof StressConfig>) =>
      ((c.durationSec ?? 10) + (c.rampUpSec ?? 0)) * 1000 + 30_000,
    attempts: 3,
    ownChecks: noChecksOfItsOwn,
  },
  // Each api step may take 30 s; seo fetches the page, robots, sitemap and up to 100 links (4 at
  // once, 10 s each); security makes four requests of at most 15 s.
  api: {
    type: 'api',
    configSchema: ApiConfig,
    resultSchema: stored('api', ApiResult),
    metrics: MetricCatalog.api,
    timeoutMs: (c: Static<typeof ApiConfig>) => (c.steps?.length ?? 1) * 30_000 + 10_000,
    attempts: 3,
    ownChecks: apiChecks,
  },
  seo: {
    type: 'seo',
    configSchema: SeoConfig,
    resultSchema: stored('seo', SeoResult),
    metrics: MetricCatalog.seo,
    timeoutMs: () => 120_000,
    attempts: 3,
    ownChecks: noChecksOfItsOwn,
  },
  security: {
    type: 'security',
    configSchema: SecurityConfig,
    resultSchema: stored('security', SecurityResult),
    metrics: MetricCatalog.security,
    timeoutMs: () => 90_000,
    attempts: 3,
    ownChecks: noChecksOfItsOwn,
  },
  // Each run launches a page load and Lighthouse's audits: about half a minute on a loaded machine.
  browser: {
    type: 'browser',
    configSchema: BrowserConfig,
    resultSchema: stored('browser', BrowserResult),
    metrics: MetricCatalog.browser,
    timeoutMs: (c: Static<typeof BrowserConfig>) => (c.runs ?? 3) * 90_000 + 30_000,
    attempts: 2,
    ownChecks: noChecksOfItsOwn,
  },
} as const satisfies Record<TestType, CatalogEntry>;

/**
 * The verdict of a completed test of `testType` from its stored result: `failed` when the engine's
 * own checks, any of `result.thresholds` or (with `failOnRegression`) `result.comparison` failed,
 * `passed` when something was judged and all of it held, `none` when nothing was.
 */
export function verdictOf(
  testType: TestType,
  result: unknown,
  options: { failOnRegression?: boolean } = {},
): Verdict {
  const judged: boolean[] = [];
  const own = (TestCatalog[testType] as CatalogEntry).ownChecks(result);
  if (own !== null) judged.push(own);
  const thresholds = field(result, 'thresholds');
  if (Array.isArray(thresholds)) judged.push(...thresholds.map((t) => field(t, 'passed') === true));
  const comparison = field(result, 'comparison');
  if (options.failOnRegression && Array.isArray(comparison)) {
    judged.push(...comparison.map((c) => field(c, 'verdict') !== 'regressed'));
  }
  if (judged.length === 0) return 'none';
  return judged.every(Boolean) ? 'passed' : 'failed';
}

export type PerformanceConfig = Static<typeof PerformanceConfig>;
export type StressConfig = Static<typeof StressConfig>;
export type ApiConfig = Static<typeof ApiConfig>;
export type SeoConfig = Static<typeof SeoConfig>;
export type SecurityConfig = Static<typeof SecurityConfig>;
export type BrowserConfig = Static<typeof BrowserConfig>;

/** The data a queued job carries: the row is the record, this is just enough to run it. */
export interface TestJobData {
  testId: string;
  testType: TestType;
  url: string;
  config: Record<string, unknown>;
  /** How the test is judged (thresholds, runs, baseline). @defaultValue DEFAULT_JUDGING */
  judging?: Judging;
  userId: string | null;
  /** The workspace that owns the test: whose quotas it runs under. @defaultValue none (jobs added before workspaces) */
  workspaceId?: string;
  /** Which run of the test this job is (manual re-runs count up). @defaultValue 0 */
  run?: number;
  /** The monitor this test is a run of (it goes on the monitors' queue). @defaultValue none */
  monitorId?: string;
}

/**
 * The BullMQ queues tests go through: every type shares `tests`, except browser tests, which hold a
 * Chromium each and have their own queue, consumed by browser workers (`WORKER_QUEUES`) that scale
 * on its depth alone — an ordinary worker never starts a browser, and a browser test never takes an
 * ordinary worker's slot.
 */
export const TestQueueNames = {
  TESTS: 'tests',
  BROWSER: 'browser',
} as const;
export type TestQueueName = (typeof TestQueueNames)[keyof typeof TestQueueNames];
/** Every test queue, the default one first. */
export const TEST_QUEUE_NAMES: readonly TestQueueName[] = Object.values(TestQueueNames);

/** The queue a test type's jobs go through. */
export function queueNameOf(testType: TestType): TestQueueName {
  return testType === TestTypes.BROWSER ? TestQueueNames.BROWSER : TestQueueNames.TESTS;
}
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
