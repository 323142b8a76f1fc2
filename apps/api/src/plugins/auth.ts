import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthUser, Authenticate } from '@crucible/db';
import { unauthorized } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    user: AuthUser | null;
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
