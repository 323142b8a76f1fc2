import { Type } from '@sinclair/typebox';
import { WorkspaceRoleSchema } from './workspace-schemas.js';
import type { SchemaOptions, Static, TObject, TUnion } from '@sinclair/typebox';
import { TestCatalog, TestTypes } from './catalog.js';
import type { TestType } from './catalog.js';

/** Request and response schemas of the HTTP API: validation and the OpenAPI document come from here. */

export const Problem = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  code: Type.String(),
  /** `INVALID_THRESHOLD`: the expression refused. */
  expression: Type.Optional(Type.String()),
  /** `INVALID_THRESHOLD`: the metric names of the test's type. */
  metrics: Type.Optional(Type.Array(Type.String())),
  /** `QUOTA_EXCEEDED`: which quota (`queued`, `stressBudget`, `submitRate`). */
  quota: Type.Optional(Type.String()),
  /** `QUOTA_EXCEEDED`: the quota's limit. */
  limit: Type.Optional(Type.Integer()),
});

export const Role = Type.Union([Type.Literal('user'), Type.Literal('admin')]);
export const UserView = Type.Object({ id: Type.String(), email: Type.String(), role: Role });
export type UserView = Static<typeof UserView>;

/** Shortest password a new account may have (NIST SP 800-63B asks for at least 8; we ask 12). */
export const PASSWORD_MIN_LENGTH = 12;

/** Sign-in: any stored password is accepted here, whatever rule was in force when it was chosen. */
export const Credentials = Type.Object(
  {
    email: Type.String({ format: 'email', maxLength: 254 }),
    password: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);
export type Credentials = Static<typeof Credentials>;

export const RegisterBody = Type.Object(
  {
    email: Type.String({ format: 'email', maxLength: 254 }),
    password: Type.String({
      minLength: 1,
      maxLength: 256,
      description: `At least ${PASSWORD_MIN_LENGTH} characters and not easy to guess (a common or breached password, a repeat, a sequence, the email): otherwise 400 WEAK_PASSWORD saying why. No rules about digits, symbols or case.`,
    }),
    invitation: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description:
          'The token of an invitation from an administrator; needed when registration is `invite`.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type RegisterBody = Static<typeof RegisterBody>;

/** Who may register (`REGISTRATION`): anyone, holders of an invitation, or nobody. */
export const RegistrationMode = Type.Union([
  Type.Literal('open'),
  Type.Literal('invite'),
  Type.Literal('closed'),
]);
export type RegistrationMode = Static<typeof RegistrationMode>;
export const RegistrationInfo = Type.Object({ mode: RegistrationMode });

/** What a client needs to know of a deployment before signing in: its version and where its gateway is. */
export const ServerMeta = Type.Object({
  version: Type.String({ description: "The API's version." }),
  wsUrl: Type.String({
    description:
      'The WebSocket gateway (`PUBLIC_WS_URL`): an absolute `ws:`/`wss:` URL, or a path such as the ' +
      'default `/ws` on the address the client reached the API at (appended to it, `http` → `ws`).',
  }),
});

export const InvitationCreate = Type.Object(
  {
    email: Type.Optional(
      Type.String({
        format: 'email',
        maxLength: 254,
        description: 'Only this email may register with it; without it, whoever holds the token.',
      }),
    ),
  },
  { additionalProperties: false },
);
/** The token is shown this once; only its hash is kept. */
export const InvitationCreated = Type.Object({
  invitationId: Type.String(),
  token: Type.String(),
  expiresAt: Type.String({ format: 'date-time' }),
});
const NullableDate = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
export const InvitationView = Type.Object({
  id: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  status: Type.Union([
    Type.Literal('pending'),
    Type.Literal('used'),
    Type.Literal('revoked'),
    Type.Literal('expired'),
  ]),
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.String({ format: 'date-time' }),
  usedAt: NullableDate,
  revokedAt: NullableDate,
});
export type InvitationView = Static<typeof InvitationView>;
export const InvitationsResponse = Type.Object({ items: Type.Array(InvitationView) });

export const AuthResponse = Type.Object({ user: UserView, token: Type.String() });

/** A single-use credential for `GET /ws?ticket=…` (browsers cannot send headers on a WebSocket). */
export const WsTicket = Type.Object({ ticket: Type.String(), expiresInMs: Type.Integer() });

/** A live sign-in session, as its user sees it on the account page. */
export const SessionView = Type.Object({
  id: Type.String(),
  /** The `User-Agent` the session signed in with (the device), if it sent one. */
  userAgent: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  /** Last use, to about a minute. */
  lastSeenAt: Type.String({ format: 'date-time' }),
  /** The absolute end of the session; unused for 12 h, it ends before. */
  expiresAt: Type.String({ format: 'date-time' }),
  /** The session of the request that asked. */
  current: Type.Boolean(),
});

export const ApiKeyCreate = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    /** The key's role in the request's workspace, at most the creator's. @defaultValue the creator's */
    role: Type.Optional(WorkspaceRoleSchema),
  },
  { additionalProperties: false },
);
export const ApiKeyCreated = Type.Object({ id: Type.String(), name: Type.String(), key: Type.String() });
export const ApiKeyView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

const TestTypeSchema = Type.Union(Object.values(TestTypes).map((t) => Type.Literal(t)));
const Status = Type.Union([
  Type.Literal('queued'),
  Type.Literal('running'),
  Type.Literal('completed'),
  Type.Literal('failed'),
  Type.Literal('cancelled'),
]);

/**
 * One of several object schemas, picked by the value of their `key` property (a literal in each):
 * an OpenAPI `oneOf` with a `discriminator`. The API's validator (Ajv's `discriminator` option)
 * checks only the branch the key picks, so a bad body gets that branch's errors, and a bad key one
 * error naming the allowed values.
 */
export function DiscriminatedUnion<T extends TObject[]>(
  key: string,
  variants: [...T],
  options: SchemaOptions = {},
) {
  return Type.Unsafe<Static<TUnion<T>>>({
    ...options,
    type: 'object',
    oneOf: variants,
    discriminator: { propertyName: key },
  });
}

/** What every submission has beside its `testType` and `config`. */
export const RunTestFields = Type.Object({
  url: Type.String({ minLength: 1, maxLength: 2048 }),
  priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, default: 5 })),
  name: Type.Optional(Type.String({ maxLength: 200 })),
  /**
   * Pass/fail rules, `"<metric> <op> <number>"` (op one of `< <= > >= == !=`), at most 20, on the
   * type's metrics (`GET /api/test/types`); anything else is 400 `INVALID_THRESHOLD`.
   */
  thresholds: Type.Optional(
    Type.Array(
      Type.Union([
        Type.String(),
        /**
         * k6's form: `abortOnFail` stops the test as soon as the threshold fails on the live figures
         * (stress tests only), judged from `delayAbortEval` (`"5s"`, `"500ms"`, `"1m"`) into the load.
         */
        Type.Object(
          {
            expression: Type.String(),
            abortOnFail: Type.Optional(Type.Boolean()),
            delayAbortEval: Type.Optional(Type.String({ maxLength: 20 })),
          },
          { additionalProperties: false },
        ),
      ]),
      { maxItems: 1000 },
    ),
  ),
  /** How many times the engine measures the target within this one test; metrics report the median and spread. */
  runs: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, default: 1 })),
  /**
   * Compare with `"previous"` (the caller's latest completed test of this type and URL) or one of
   * the caller's test ids (another user's is 404): the result gets `comparison`.
   */
  baseline: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  /** A metric regressed against the baseline fails the verdict. */
  failOnRegression: Type.Optional(Type.Boolean({ default: false })),
  /** Changes within this many percent are "unchanged" (with several runs a change must also be significant). */
  comparisonTolerancePct: Type.Optional(Type.Number({ minimum: 0, maximum: 1000, default: 10 })),
});

const runTestVariant = <K extends TestType, C extends TObject>(testType: K, config: C) =>
  Type.Object(
    { testType: Type.Literal(testType), ...RunTestFields.properties, config: Type.Optional(config) },
    { additionalProperties: false, title: `${testType} test` },
  );

/** One metric of a type's catalogue (metrics.ts). */
export const MetricSpecView = Type.Object({
  name: Type.String(),
  unit: Type.String(),
  description: Type.String(),
  better: Type.Union([Type.Literal('lower'), Type.Literal('higher')]),
});

/** `GET /api/test/types`: each type's config schema (JSON Schema) and the metrics it measures. */
export const TestTypesResponse = Type.Object({
  types: Type.Array(
    Type.Object({
      type: TestTypeSchema,
      configSchema: Type.Record(Type.String(), Type.Unknown()),
      metrics: Type.Array(MetricSpecView),
    }),
  ),
});
export type TestTypesResponse = Static<typeof TestTypesResponse>;

/** `POST /api/test/run`: `config` is the catalogue's schema of the `testType` (catalog.ts). */
export const RunTestBody = DiscriminatedUnion('testType', [
  runTestVariant('performance', TestCatalog.performance.configSchema),
  runTestVariant('stress', TestCatalog.stress.configSchema),
  runTestVariant('api', TestCatalog.api.configSchema),
  runTestVariant('seo', TestCatalog.seo.configSchema),
  runTestVariant('security', TestCatalog.security.configSchema),
  runTestVariant('browser', TestCatalog.browser.configSchema),
]);
export type RunTestBody = Static<typeof RunTestBody>;

const NullableInteger = Type.Union([Type.Integer(), Type.Null()]);

/** A completed test's verdict (catalog.ts, `Verdicts`); null until it completed. */
export const VerdictSchema = Type.Union([
  Type.Literal('passed'),
  Type.Literal('failed'),
  Type.Literal('none'),
  Type.Null(),
]);

/**
 * 202 of a submission. A replay of an `Idempotency-Key` answers the earlier test as it is now, so
 * its status may have moved on (and its position be null once it is no longer queued).
 */
export const RunTestAccepted = Type.Object({
  testId: Type.String(),
  status: Status,
  /** 1 = next to start; null unless queued. */
  queuePosition: NullableInteger,
  /** Estimated seconds until the test completes; null when unknown (no live worker) or finished. */
  etaSeconds: NullableInteger,
});

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7E]+$' }),
  ),
});

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const TestView = Type.Object({
  testId: Type.String(),
  testType: TestTypeSchema,
  url: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  status: Status,
  /** What the test's own checks say once it completed: `passed`, `failed` or `none` (nothing judged). */
  verdict: VerdictSchema,
  /** The test this one runs again ("Run again"), or null. */
  rerunOf: Type.Union([Type.String(), Type.Null()]),
  /** The monitor this test is a run of, or null. */
  monitorId: Type.Union([Type.String(), Type.Null()]),
  /** A monitor run's slot, or null. */
  scheduledFor: Nullable(Type.String({ format: 'date-time' })),
  priority: Type.Integer(),
  progress: Type.Integer(),
  retryCount: Type.Integer(),
  config: Type.Record(Type.String(), Type.Unknown()),
  /** The threshold expressions it was submitted with, in order (judged in `result.thresholds`). */
  thresholds: Type.Array(Type.String()),
  /** Measurements the engine makes within the test (`result.metrics[name].runs` with more than one). */
  runs: Type.Integer(),
  /** The test it is compared with (the submission's `baseline` resolved), or null. */
  baseline: Type.Union([Type.String(), Type.Null()]),
  failOnRegression: Type.Boolean(),
  /** What the type's engine returned, as stored: any value here (see `documentedByTestType`). */
  result: Type.Unknown(),
  errorMessage: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  startedAt: Nullable(Type.String({ format: 'date-time' })),
  completedAt: Nullable(Type.String({ format: 'date-time' })),
  updatedAt: Type.String({ format: 'date-time' }),
});
export type TestView = Static<typeof TestView>;

export const AttemptView = Type.Object({
  attempt: Type.Integer(),
  run: Type.Integer(),
  status: Type.String(),
  errorMessage: Type.Union([Type.String(), Type.Null()]),
  startedAt: Type.String({ format: 'date-time' }),
  finishedAt: Nullable(Type.String({ format: 'date-time' })),
});

/** The test with where it stands in the queue and every attempt so far (retry history). */
export const TestDetail = Type.Composite([
  TestView,
  Type.Object({
    queuePosition: NullableInteger,
    etaSeconds: NullableInteger,
    /** Running, but nothing written for the workers' lock duration: waiting for a lost worker's recovery. */
    stalled: Type.Boolean(),
    /**
     * That lock duration (`WORKER_LOCK_DURATION_MS`): an open page that hears no progress for this
     * long asks again, to say "stalled" without being reloaded.
     */
    stalledAfterMs: Type.Integer(),
    /**
     * Why a queued test has not started although workers are free: e.g. a stress test waiting
     * until its workspace's other stress tests leave it enough connections. Null otherwise.
     */
    waitReason: Type.Union([Type.String(), Type.Null()]),
    attempts: Type.Array(AttemptView),
    /** Tests that ran this one again ("Run again") that the caller may see, newest first (at most 20). */
    reruns: Type.Array(Type.String()),
  }),
]);
export type TestDetail = Static<typeof TestDetail>;

/**
 * A view of a test as the OpenAPI document shows it: one branch per test type, tagged by
 * `testType`, whose `config` is that type's config schema and whose `result` is that type's result
 * schema (catalog.ts) or null until it completed.
 * The API serializes with the view itself, whose `result` is any value, never with this:
 * fast-json-stringify writes only the properties a schema names and picks a `oneOf` branch by
 * validating, so a field an engine adds before its schema does, or a result stored by an older
 * worker, would be dropped or mangled without a word. The api tests prove each engine's stored
 * result matches its schema and comes back whole.
 */
function documentedByTestType<T extends TObject>(view: T) {
  return DiscriminatedUnion(
    'testType',
    Object.values(TestTypes).map((testType) =>
      Type.Object(
        {
          ...view.properties,
          testType: Type.Literal(testType),
          ...('config' in view.properties
            ? {
                config: {
                  ...TestCatalog[testType].configSchema,
                  description: `The ${testType} config, defaults applied.`,
                },
              }
            : {}),
          result: Type.Union([TestCatalog[testType].resultSchema, Type.Null()], {
            description: `What the ${testType} engine returned; null unless the test completed.`,
          }),
        },
        { title: `${testType} test` },
      ),
    ),
  );
}

/** `TestDetail` in the OpenAPI document: its `result` typed by `testType`. */
export const DocumentedTestDetail = documentedByTestType(TestDetail);

export const TestIdParams = Type.Object({ jobId: Type.String({ format: 'uuid' }) });

const TierStatsView = Type.Object({
  hits: Type.Integer(),
  misses: Type.Integer(),
  hitRatio: Type.Number(),
});
const NamespaceStatsProperties = {
  ...TierStatsView.properties,
  memory: TierStatsView,
  redis: TierStatsView,
  sets: Type.Integer(),
  deletes: Type.Integer(),
};
/** `GET /api/admin/cache/stats`: the API process's cache counters (see `Cache.stats()`). */
export const CacheStatsView = Type.Object({
  ...NamespaceStatsProperties,
  evictions: Type.Integer(),
  errors: Type.Integer(),
  memoryEntries: Type.Integer(),
  breaker: Type.Union([Type.Literal('closed'), Type.Literal('open'), Type.Literal('half-open')]),
  bus: Type.Object({ published: Type.Integer(), received: Type.Integer() }),
  namespaces: Type.Record(Type.String(), Type.Object(NamespaceStatsProperties)),
});

export const AdminUserView = Type.Object({
  id: Type.String(),
  email: Type.String(),
  role: Role,
  createdAt: Type.String({ format: 'date-time' }),
});
export const AdminUsersResponse = Type.Object({ items: Type.Array(AdminUserView), total: Type.Integer() });

export const CancelParams = Type.Object({ testId: Type.String({ format: 'uuid' }) });
export const CancelResponse = Type.Object({ testId: Type.String(), status: Type.Literal('cancelled') });
/** 202 of "Run again": a new test, linked to the one it repeats. */
export const RerunResponse = Type.Object({
  testId: Type.String(),
  rerunOf: Type.String(),
  status: Status,
  queuePosition: NullableInteger,
  etaSeconds: NullableInteger,
});
export const TestParams = Type.Object({ testId: Type.String({ format: 'uuid' }) });
/** An artifact's bytes, sent as they are with their own content type (never serialized as JSON). */
export const ArtifactBody = Type.Unsafe<Uint8Array>({ type: 'string', format: 'binary' });
export const ArtifactParams = Type.Object({
  testId: Type.String({ format: 'uuid' }),
  name: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,99}$' }),
});
export const RetryResponse = Type.Object({
  testId: Type.String(),
  status: Type.Literal('queued'),
  queuePosition: NullableInteger,
  etaSeconds: NullableInteger,
});

/** `?workspace=`: the workspace a request acts in, when the `X-Crucible-Workspace` header does not name it. */
export const WorkspaceQueryParam = Type.Optional(Type.String({ minLength: 1, maxLength: 64 }));

export const ListQuery = Type.Object(
  {
    status: Type.Optional(Status),
    testType: Type.Optional(TestTypeSchema),
    /** Case-insensitive substring of the URL. */
    url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    /** The runs of one monitor. */
    monitorId: Type.Optional(Type.String({ format: 'uuid' })),
    /** Admins only: one user's tests. */
    userId: Type.Optional(Type.String({ format: 'uuid' })),
    /** Admins only: the tests of the user with this email (case-insensitive). */
    owner: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    workspace: WorkspaceQueryParam,
  },
  { additionalProperties: false },
);
export type ListQuery = Static<typeof ListQuery>;

/** A test in a list, with whose it is (an admin's list holds everyone's). */
export const TestListItem = Type.Composite([
  TestView,
  Type.Object({
    /** null when the owner's account is gone. */
    owner: Type.Union([Type.Object({ id: Type.String(), email: Type.String() }), Type.Null()]),
  }),
]);
export type TestListItem = Static<typeof TestListItem>;

export const ListResponse = Type.Object({
  items: Type.Array(TestListItem),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

/** `ListResponse` in the OpenAPI document: each item's `result` typed by its `testType`. */
export const DocumentedListResponse = Type.Object({
  ...ListResponse.properties,
  items: Type.Array(documentedByTestType(TestListItem)),
});

export const QueueStatusResponse = Type.Object({
  user: Type.Object({
    queued: Type.Integer(),
    running: Type.Integer(),
    completed: Type.Integer(),
    failed: Type.Integer(),
    cancelled: Type.Integer(),
  }),
  queue: Type.Object({
    waiting: Type.Integer(),
    active: Type.Integer(),
    delayed: Type.Integer(),
    workers: Type.Integer(),
  }),
  /** The caller's running tests, then their queued ones in the order they will start (at most 20). */
  tests: Type.Array(
    Type.Object({
      testId: Type.String(),
      testType: TestTypeSchema,
      name: Type.Union([Type.String(), Type.Null()]),
      url: Type.String(),
      status: Type.Union([Type.Literal('queued'), Type.Literal('running')]),
      priority: Type.Integer(),
      progress: Type.Integer(),
      queuePosition: NullableInteger,
      etaSeconds: NullableInteger,
      /** Why a queued test has not started yet (as in the test's detail, or from the queue); null when running. */
      waitReason: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
});

export const CleanupQuery = Type.Object(
  {
    /** Hours since the test ended. */
    olderThan: Type.Optional(Type.Number({ minimum: 0, maximum: 24 * 365 * 10, default: 24 })),
    /** Admins only: everyone's finished tests. */
    all: Type.Optional(Type.Boolean({ default: false })),
    workspace: WorkspaceQueryParam,
  },
  { additionalProperties: false },
);
export const CleanupResponse = Type.Object({ deleted: Type.Integer() });
