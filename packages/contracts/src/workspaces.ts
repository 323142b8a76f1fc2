/**
 * Workspaces and the one authorisation policy (DESIGN.md, "Workspaces"): a table of role ×
 * action, read by every api route and by the gateway. Browser-safe, so the dashboard hides what
 * a role may not do by the same table.
 */

/** A member's role in a workspace, from most to least trusted. */
export const WorkspaceRoles = { OWNER: 'owner', ADMIN: 'admin', MEMBER: 'member', VIEWER: 'viewer' } as const;
export type WorkspaceRole = (typeof WorkspaceRoles)[keyof typeof WorkspaceRoles];

/** Every role, most trusted first. */
export const WORKSPACE_ROLES: readonly WorkspaceRole[] = ['owner', 'admin', 'member', 'viewer'];

/** How much a role is trusted: a higher rank may do all a lower one may. */
const RANK: Record<WorkspaceRole, number> = { owner: 3, admin: 2, member: 1, viewer: 0 };

export function isWorkspaceRole(value: unknown): value is WorkspaceRole {
  return typeof value === 'string' && Object.hasOwn(RANK, value);
}

/** Whether `role` is at least as trusted as `than` (an API key's role may be at most its creator's). */
export function roleAtLeast(role: WorkspaceRole, than: WorkspaceRole): boolean {
  return RANK[role] >= RANK[than];
}

/**
 * What can be done in a workspace, as `resource:verb`. A route names exactly one; the gateway
 * names `test:read` for a test's channels and `workspace:read` for `team-{workspaceId}`.
 */
export const WorkspacePolicy = {
  'workspace:read': 'viewer',
  'workspace:update': 'owner',
  'workspace:delete': 'owner',
  'member:read': 'viewer',
  'member:invite': 'admin',
  /** Revoking a workspace's unused invitation (one granting `owner`: also `owner:manage`). */
  'invitation:revoke': 'admin',
  'member:update': 'admin',
  'member:remove': 'admin',
  /** Making an owner, or changing or removing one: beyond what an admin may. */
  'owner:manage': 'owner',
  'apiKey:create': 'admin',
  'audit:read': 'admin',
  'test:read': 'viewer',
  'test:run': 'member',
  'test:cancel': 'member',
  'test:retry': 'member',
  'test:cleanup': 'member',
  /** Making and revoking a public link to one of the workspace's tests. */
  'test:share': 'member',
  /** Notification channels (DESIGN.md, "Alerts and notifications"): seeing them and their trail. */
  'notificationChannel:read': 'viewer',
  /** Sending a channel a test notification. */
  'notificationChannel:test': 'member',
  /** Adding, changing and removing channels: they hold credentials and reach outside. */
  'notificationChannel:manage': 'admin',
  'monitor:read': 'viewer',
  /** Create, change, pause, delete and run monitors; their maintenance windows. */
  'monitor:write': 'member',
  /** Alert rules and incidents (DESIGN.md, "Alerts and notifications"): seeing them. */
  'alert:read': 'viewer',
  /** Creating, changing and deleting rules; acknowledging and resolving incidents. */
  'alert:write': 'member',
} as const satisfies Record<string, WorkspaceRole>;

export type WorkspaceAction = keyof typeof WorkspacePolicy;
export const WORKSPACE_ACTIONS = Object.keys(WorkspacePolicy) as WorkspaceAction[];

/** The policy: whether a member with `role` may do `action`. */
export function can(role: WorkspaceRole, action: WorkspaceAction): boolean {
  return roleAtLeast(role, WorkspacePolicy[action]);
}

/** The request header naming the workspace a request acts in (or `?workspace=`); default the personal one. */
export const WORKSPACE_HEADER = 'x-crucible-workspace';
