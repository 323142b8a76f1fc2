import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';

/** Request and response schemas of the workspace routes (DESIGN.md, "Workspaces"). */

export const WorkspaceRoleSchema = Type.Union([
  Type.Literal('owner'),
  Type.Literal('admin'),
  Type.Literal('member'),
  Type.Literal('viewer'),
]);

const Name = Type.String({ minLength: 1, maxLength: 100 });

export const WorkspaceCreate = Type.Object({ name: Name }, { additionalProperties: false });
export const WorkspaceUpdate = Type.Object({ name: Name }, { additionalProperties: false });
export const WorkspaceParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
export const MemberParams = Type.Object({
  id: Type.String({ format: 'uuid' }),
  userId: Type.String({ format: 'uuid' }),
});
/** A workspace's invitation, by the `invitationId` its making answered. */
export const WorkspaceInvitationParams = Type.Object({
  id: Type.String({ format: 'uuid' }),
  invitationId: Type.String({ format: 'uuid' }),
});
export const InvitationTokenParams = Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) });

/** A workspace as the caller sees it: with their role. */
export const WorkspaceView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  /** The caller's personal workspace (never deleted). */
  personal: Type.Boolean(),
  role: WorkspaceRoleSchema,
  createdAt: Type.String({ format: 'date-time' }),
});
export type WorkspaceView = Static<typeof WorkspaceView>;
export const WorkspacesResponse = Type.Object({ items: Type.Array(WorkspaceView) });

export const MemberView = Type.Object({
  userId: Type.String(),
  email: Type.String(),
  role: WorkspaceRoleSchema,
  joinedAt: Type.String({ format: 'date-time' }),
});
export type MemberView = Static<typeof MemberView>;
export const MembersResponse = Type.Object({ items: Type.Array(MemberView) });
export const MemberUpdate = Type.Object({ role: WorkspaceRoleSchema }, { additionalProperties: false });

export const WorkspaceInvitationCreate = Type.Object(
  { email: Type.String({ format: 'email', maxLength: 254 }), role: WorkspaceRoleSchema },
  { additionalProperties: false },
);
export const InvitationAccepted = Type.Object({ workspaceId: Type.String(), role: WorkspaceRoleSchema });

/** A workspace's invitation nobody has used, revoked or let expire yet (never its token). */
export const PendingInvitationView = Type.Object({
  invitationId: Type.String(),
  email: Type.String(),
  role: WorkspaceRoleSchema,
  /** Who made it (their email as it is now); null when they have since gone. */
  invitedBy: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.String({ format: 'date-time' }),
});
export type PendingInvitationView = Static<typeof PendingInvitationView>;
export const PendingInvitationsResponse = Type.Object({ items: Type.Array(PendingInvitationView) });

/** A limit: null when there is none. */
const Limit = Type.Union([Type.Integer(), Type.Null()]);

/** One quota's use and limit (DESIGN.md, "Quotas"). */
export const QuotaUse = Type.Object({ used: Type.Integer(), limit: Limit });
/** Use against a quota that is counted over a window: when the window's count starts again. */
export const WindowedQuotaUse = Type.Object({
  used: Type.Integer(),
  limit: Limit,
  resetsAt: Type.String({ format: 'date-time' }),
});

/** `GET /api/workspaces/:id/usage`: the workspace's use against each of its quotas. */
export const WorkspaceUsage = Type.Object({
  workspaceId: Type.String(),
  /** Tests queued now. */
  queued: QuotaUse,
  /** Tests running now; beyond the limit tests wait queued. */
  running: QuotaUse,
  /** Stress connection-seconds accepted today (UTC). */
  stressBudget: WindowedQuotaUse,
  /** Submissions in the current minute's window. */
  submitRate: WindowedQuotaUse,
  /** Connections the workspace's running stress tests may hold together. */
  stressConnections: Type.Object({ limit: Limit }),
});
export type WorkspaceUsage = Static<typeof WorkspaceUsage>;

/**
 * An override: a positive limit, 0 for none, or null for the deployment's default. One schema of
 * two types rather than a union: the api's Ajv coerces types, and would read null as the union's
 * integer 0 (or 0 as its null).
 */
const Override = Type.Optional(
  Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum: 0, maximum: 1_000_000_000 }),
);

/** `PUT /api/admin/workspaces/:id/quotas`: the workspace's overrides (a quota left out keeps its override). */
export const QuotaOverrides = Type.Object(
  {
    queued: Override,
    running: Override,
    stressBudget: Override,
    submitRate: Override,
    stressConnections: Override,
  },
  { additionalProperties: false },
);
export type QuotaOverrides = Static<typeof QuotaOverrides>;

const Limits = Type.Object({
  queued: Limit,
  running: Limit,
  stressBudget: Limit,
  submitRate: Limit,
  stressConnections: Limit,
});
const Overrides = Type.Object({
  queued: Limit,
  running: Limit,
  stressBudget: Limit,
  submitRate: Limit,
  stressConnections: Limit,
});

/** A workspace's quotas: its overrides (null: the default) and the limits in force (null: none). */
export const WorkspaceQuotasView = Type.Object({
  workspaceId: Type.String(),
  overrides: Overrides,
  limits: Limits,
});
export type WorkspaceQuotasView = Static<typeof WorkspaceQuotasView>;

// The policy and the header, for clients that import the route table only (`@crucible/contracts/api`).
export { WORKSPACE_HEADER, WORKSPACE_ROLES, can } from './workspaces.js';
export type { WorkspaceAction, WorkspaceRole } from './workspaces.js';
