import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { TestTypes } from './catalog.js';

/** Request and response schemas of the HTTP API: validation and the OpenAPI document come from here. */

export const Problem = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  code: Type.String(),
});

export const Role = Type.Union([Type.Literal('user'), Type.Literal('admin')]);
export const UserView = Type.Object({ id: Type.String(), email: Type.String(), role: Role });
export type UserView = Static<typeof UserView>;

export const Credentials = Type.Object(
  {
    email: Type.String({ format: 'email', maxLength: 254 }),
    password: Type.String({ minLength: 8, maxLength: 256 }),
  },
  { additionalProperties: false },
);
export type Credentials = Static<typeof Credentials>;

export const AuthResponse = Type.Object({ user: UserView, token: Type.String() });

/** A single-use credential for `GET /ws?ticket=…` (browsers cannot send headers on a WebSocket). */
export const WsTicket = Type.Object({ ticket: Type.String(), expiresInMs: Type.Integer() });

export const ApiKeyCreate = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 100 }) },
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
const Status = Type.Union(
  ['queued', 'running', 'completed', 'failed', 'cancelled'].map((s) => Type.Literal(s)),
);

export const RunTestBody = Type.Object(
  {
    testType: TestTypeSchema,
    url: Type.String({ minLength: 1, maxLength: 2048 }),
    priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, default: 5 })),
    name: Type.Optional(Type.String({ maxLength: 200 })),
    config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);
export type RunTestBody = Static<typeof RunTestBody>;

export const RunTestAccepted = Type.Object({
  testId: Type.String(),
  status: Type.Literal('queued'),
  queuePosition: Type.Integer(),
});

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const TestView = Type.Object({
  testId: Type.String(),
  testType: TestTypeSchema,
  url: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  status: Status,
  priority: Type.Integer(),
  progress: Type.Integer(),
  retryCount: Type.Integer(),
  config: Type.Record(Type.String(), Type.Unknown()),
  result: Type.Unknown(),
  errorMessage: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  startedAt: Nullable(Type.String({ format: 'date-time' })),
  completedAt: Nullable(Type.String({ format: 'date-time' })),
  updatedAt: Type.String({ format: 'date-time' }),
});
export type TestView = Static<typeof TestView>;

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
