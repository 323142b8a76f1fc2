import type { FastifyRequest } from 'fastify';
import { WORKSPACE_HEADER, WorkspacePolicy, can, roleAtLeast } from '@crucible/contracts';
import type { WorkspaceAction, WorkspaceRole } from '@crucible/contracts';
import type { Cache } from '@crucible/cache';
import type { AuthUser } from '@crucible/runtime';
import type { WorkspaceMembersRepository, WorkspacesRepository } from '@crucible/db';
import { HttpProblem, notFound } from '../errors.js';

/** A user acting in one workspace with one role: who every workspace-owned operation is done by. */
export interface Actor extends AuthUser {
  workspaceId: string;
  workspaceRole: WorkspaceRole;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The cache namespace of memberships (see {@link createWorkspaceAccess}). */
export const ACCESS_CACHE_NAMESPACE = 'workspace-access';

/** How long a membership's role is remembered when no change drops it first. */
const ROLE_TTL_MS = 5_000;

/** How long a user's personal workspace is remembered: it never changes (never deleted). */
const PERSONAL_TTL_MS = 60 * 60_000;

const memberTag = (workspaceId: string, userId: string) => `member:${workspaceId}:${userId}`;
const workspaceTag = (workspaceId: string) => `workspace:${workspaceId}`;

export const forbiddenRole = (action: WorkspaceAction, role: WorkspaceRole) =>
  new HttpProblem(
    403,
    'FORBIDDEN_ROLE',
    'Forbidden',
    `${action} needs the role ${WorkspacePolicy[action]} or higher in this workspace; yours is ${role}`,
  );

/** The workspace a request names (`X-Crucible-Workspace` header, else `?workspace=`), if any. */
export function requestedWorkspace(request: FastifyRequest): string | undefined {
  const header = request.headers[WORKSPACE_HEADER];
  if (typeof header === 'string' && header !== '') return header;
  const query = (request.query ?? {}) as Record<string, unknown>;
  return typeof query.workspace === 'string' && query.workspace !== '' ? query.workspace : undefined;
}

export interface WorkspaceAccess {
  /**
   * The user acting in `workspaceId` (default: an API key's workspace, else the personal one),
   * allowed `action` by the policy: 404 when the workspace does not exist or the user is not a
   * member (existence hidden), 403 `FORBIDDEN_ROLE` when their role is too low. An API key acts
   * only in its own workspace, with the lower of its role and its user's.
   */
  actor(user: AuthUser, workspaceId: string | undefined, action: WorkspaceAction): Promise<Actor>;
  /** {@link actor} with the workspace the request names. */
  actorOf(request: FastifyRequest, user: AuthUser, action: WorkspaceAction): Promise<Actor>;
  /**
   * Drops remembered roles after a membership was taken away or lowered: one member's, or every
   * member's of a deleted workspace — in this process at once, in the others as the cache's bus
   * delivers. Joining needs no call: a user found to be no member is never remembered.
   */
  forget(change: { workspaceId: string; userId?: string }): Promise<void>;
}

/**
 * The policy applied to a request's workspace. Memberships are read through the deployment's cache
 * (memory tier first, kept coherent across api processes by its bus, a role for at most 5 s): an
 * accepted test otherwise cost two reads of PostgreSQL before its INSERT, more than the group
 * commit's whole share of it. A non-member is never remembered, so joining counts at once.
 */
export function createWorkspaceAccess(deps: {
  workspaces: Pick<WorkspacesRepository, 'findPersonal'>;
  members: Pick<WorkspaceMembersRepository, 'roleOf'>;
  cache: Cache;
}): WorkspaceAccess {
  const cache = deps.cache.namespace(ACCESS_CACHE_NAMESPACE);
  const personalOf = (userId: string) =>
    cache.cached(
      `personal:${userId}`,
      PERSONAL_TTL_MS,
      async () => (await deps.workspaces.findPersonal(userId))?.id,
      { negativeTtlMs: 0, graceMs: 0 },
    );
  const roleOf = (workspaceId: string, userId: string) =>
    cache.cached(
      `role:${workspaceId}:${userId}`,
      ROLE_TTL_MS,
      () => deps.members.roleOf(workspaceId, userId),
      {
        tags: [memberTag(workspaceId, userId), workspaceTag(workspaceId)],
        negativeTtlMs: 0,
        graceMs: 0,
      },
    );

  async function membership(user: AuthUser, requested: string | undefined) {
    const key = user.apiKeyAccess;
    if (key && requested !== undefined && requested !== key.workspaceId) return undefined;
    const workspaceId = requested ?? key?.workspaceId ?? (await personalOf(user.id));
    if (!workspaceId || !UUID.test(workspaceId)) return undefined;
    const role = await roleOf(workspaceId, user.id);
    if (!role) return undefined;
    return { workspaceId, role: key && !roleAtLeast(key.role, role) ? key.role : role };
  }
  const access: WorkspaceAccess = {
    async actor(user, requested, action) {
      const found = await membership(user, requested);
      if (!found) throw notFound('Workspace');
      if (!can(found.role, action)) throw forbiddenRole(action, found.role);
      return { ...user, workspaceId: found.workspaceId, workspaceRole: found.role };
    },
    actorOf: (request, user, action) => access.actor(user, requestedWorkspace(request), action),
    forget: ({ workspaceId, userId }) =>
      cache.invalidateTags([
        userId === undefined ? workspaceTag(workspaceId) : memberTag(workspaceId, userId),
      ]),
  };
  return access;
}
