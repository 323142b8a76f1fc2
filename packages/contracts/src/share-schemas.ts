import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { TestView } from './api-schemas.js';

/** Request and response schemas of share links and the audit log (DESIGN.md, "Sharing", "Audit log"). */

const DateTime = Type.String({ format: 'date-time' });
const NullableDateTime = Type.Union([DateTime, Type.Null()]);

export const ShareCreate = Type.Object(
  {
    /** When the link stops working. @defaultValue never (until revoked) */
    expiresAt: Type.Optional(DateTime),
  },
  { additionalProperties: false },
);

/** A new share link: `shareId` is the public secret, shown once (kept hashed). */
export const ShareCreated = Type.Object({
  /** The share's id among the test's shares (for listing and revoking). */
  id: Type.String(),
  shareId: Type.String(),
  /** The public page: the dashboard's `/shared/{shareId}`. */
  url: Type.String(),
  expiresAt: NullableDateTime,
});

/** A live share of a test, as its workspace's members list it (without the secret). */
export const ShareView = Type.Object({
  id: Type.String(),
  createdAt: DateTime,
  expiresAt: NullableDateTime,
});
export const SharesResponse = Type.Object({ items: Type.Array(ShareView) });

export const ShareTestParams = Type.Object({ testId: Type.String({ format: 'uuid' }) });
/** `shareId`: the public id or the share's `id`. */
export const ShareRevokeParams = Type.Object({
  testId: Type.String({ format: 'uuid' }),
  shareId: Type.String({ minLength: 1, maxLength: 64 }),
});
export const SharedParams = Type.Object({ shareId: Type.String({ minLength: 1, maxLength: 64 }) });

/**
 * A shared test as anyone with the link sees it: no id of it or of anything else (no re-runs,
 * baseline, owner or workspace), its config and result with secrets redacted.
 */
export const SharedTestView = Type.Object({
  testType: TestView.properties.testType,
  name: TestView.properties.name,
  /** The target without its query string, fragment or credentials. */
  url: Type.String(),
  status: TestView.properties.status,
  verdict: TestView.properties.verdict,
  progress: Type.Integer(),
  /** Header values, bodies, credentials and URL queries redacted. */
  config: Type.Record(Type.String(), Type.Unknown()),
  thresholds: Type.Array(Type.String()),
  runs: Type.Integer(),
  result: Type.Unknown(),
  errorMessage: Type.Union([Type.String(), Type.Null()]),
  createdAt: DateTime,
  startedAt: NullableDateTime,
  completedAt: NullableDateTime,
  /** When the link stops working, or null. */
  expiresAt: NullableDateTime,
  /** The channel of its live progress while it runs: `shared-tests-{shareId}`. */
  channel: Type.String(),
});
export type SharedTestView = Static<typeof SharedTestView>;

export const AuditQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
});

/** One entry of a workspace's audit log. */
export const AuditEntryView = Type.Object({
  id: Type.String(),
  /** e.g. `member.role_changed`, `share.created` (DESIGN.md, "Audit log"). */
  action: Type.String(),
  actor: Type.Union([
    Type.Object({ id: Type.Union([Type.String(), Type.Null()]), email: Type.String() }),
    Type.Null(),
  ]),
  target: Type.Union([Type.Object({ type: Type.String(), id: Type.String() }), Type.Null()]),
  details: Type.Record(Type.String(), Type.Unknown()),
  createdAt: DateTime,
});
export type AuditEntryView = Static<typeof AuditEntryView>;
export const AuditResponse = Type.Object({
  items: Type.Array(AuditEntryView),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
