import type { FastifyRequest } from 'fastify';
import type { SessionsRepository, User } from '@crucible/db';
import type { TokenService } from '@crucible/runtime';

/** Starts a session for a user who just proved who they are; answers its token. */
export type StartSession = (user: Pick<User, 'id' | 'role'>, request: FastifyRequest) => Promise<string>;

export function createSessionStarter(deps: {
  sessions: SessionsRepository;
  tokens: TokenService;
}): StartSession {
  return async (user, request) => {
    const session = await deps.sessions.create(user.id, {
      userAgent: request.headers['user-agent'],
      ip: request.ip,
    });
    return deps.tokens.sign({ sub: user.id, role: user.role, sid: session.id });
  };
}
