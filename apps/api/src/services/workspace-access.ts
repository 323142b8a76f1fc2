import type { FastifyRequest } from 'fastify';
import { WORKSPACE_HEADER, WorkspacePolicy, can, roleAtLeast } from '@crucible/contracts';
import type { WorkspaceAction, WorkspaceRole } from '@crucible/contracts';
import type { AuthUser } from '@crucible/runtime';
import type { WorkspaceMembersRepository, WorkspacesRepository } from '@crucible/db';
import { HttpProblem, notFound } from '../errors.js';

/** A user acting in one workspace with one role: who every workspace-owned operation is done by. */
export interface Actor extends AuthUser {
  workspaceId: string;
  workspaceRole: WorkspaceRole;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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
}

export function createWorkspaceAccess(deps: {
  workspaces: Pick<WorkspacesRepository, 'findPersonal'>;
  members: Pick<WorkspaceMembersRepository, 'roleOf'>;
}): WorkspaceAccess {
  async function membership(user: AuthUser, requested: string | undefined) {
    const key = user.apiKeyAccess;
    if (key && requested !== undefined && requested !== key.workspaceId) return undefined;
    const workspaceId = requested ?? key?.workspaceId ?? (await deps.workspaces.findPersonal(user.id))?.id;
    if (!workspaceId || !UUID.test(workspaceId)) return undefined;
    const role = await deps.members.roleOf(workspaceId, user.id);
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
  };
  return access;
}
