import type { FastifyReply, FastifyRequest } from 'fastify';
import type { WorkspaceAction } from '@crucible/contracts';
import type { AuthUser, Authenticate } from '@crucible/runtime';
import { unauthorized } from '../errors.js';
import type { Actor, WorkspaceAccess } from '../services/workspace-access.js';

declare module 'fastify' {
  interface FastifyRequest {
    user: AuthUser | null;
    /** The user acting in the request's workspace, set for routes with `config.workspaceAction`. */
    actor: Actor | null;
  }
  interface FastifyContextConfig {
    /** What the route does in its workspace: checked against the policy before anything else. */
    workspaceAction?: WorkspaceAction;
  }
}

/** Extracts the bearer credential of a request (session token or API key). */
export function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

/** An `onRequest` hook that admits only authenticated requests and sets `request.user`. */
export function requireUser(authenticate: Authenticate) {
  return async function (request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const user = await authenticate(bearerOf(request));
    if (!user) throw unauthorized();
    request.user = user;
  };
}

/** The authenticated user of a request that passed {@link requireUser}. */
export function userOf(request: FastifyRequest): AuthUser {
  if (!request.user) throw unauthorized();
  return request.user;
}

/**
 * An `onRequest` hook that admits only authenticated requests and, on routes that name a
 * `config.workspaceAction`, only users the policy allows it in the request's workspace (404 for
 * non-members, 403 `FORBIDDEN_ROLE`); sets `request.user` and `request.actor`. Before the cache's
 * lookup, so a cached response is never served to someone the policy refuses.
 */
export function requireActor(authenticate: Authenticate, access: WorkspaceAccess) {
  const admit = requireUser(authenticate);
  return async function (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    await admit(request, reply);
    const action = request.routeOptions.config.workspaceAction;
    if (action) request.actor = await access.actorOf(request, request.user!, action);
  };
}

/** The acting user of a request that passed {@link requireActor} on a route with a `workspaceAction`. */
export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) throw unauthorized();
  return request.actor;
}
