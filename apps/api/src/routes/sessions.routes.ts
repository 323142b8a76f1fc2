import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Authenticate } from '@crucible/runtime';
import type { SessionsRepository } from '@crucible/db';
import { ApiRoutes } from '@crucible/contracts/api';
import { HttpProblem } from '../errors.js';
import { requireUser, userOf } from '../plugins/auth.js';

export interface SessionsRoutesOptions {
  authenticate: Authenticate;
  sessions: SessionsRepository;
}

/**
 * Sign-out and the caller's sessions. A revoked session is refused at once by this process and
 * within the authenticator's cache TTL (5 s) by every other api and gateway process; gateways close
 * its sockets on their next revalidation (15 s).
 */
export const sessionsRoutes: FastifyPluginAsyncTypebox<SessionsRoutesOptions> = async (app, opts) => {
  const { sessions, authenticate } = opts;
  app.addHook('onRequest', requireUser(authenticate));

  app.route({
    ...ApiRoutes.logout,
    handler: async (request, reply) => {
      const user = userOf(request);
      if (!user.sessionId) {
        throw new HttpProblem(
          400,
          'NOT_A_SESSION',
          'Bad Request',
          'An API key is not a session: revoke it with DELETE /api/auth/api-keys/:id',
        );
      }
      await sessions.revoke(user.id, user.sessionId);
      authenticate.forget({ sessionId: user.sessionId });
      return reply.code(204).send(null);
    },
  });

  app.route({
    ...ApiRoutes.logoutAll,
    handler: async (request, reply) => {
      const user = userOf(request);
      await sessions.revokeAll(user.id);
      // The user's keys are forgotten too, and simply read again: this process holds no list of
      // which remembered entries are sessions.
      authenticate.forget({ userId: user.id });
      return reply.code(204).send(null);
    },
  });

  app.route({
    ...ApiRoutes.listSessions,
    handler: async (request) => {
      const user = userOf(request);
      const rows = await sessions.listForUser(user.id);
      return rows.map((s) => ({
        id: s.id,
        userAgent: s.user_agent,
        ip: s.ip,
        createdAt: s.created_at.toISOString(),
        lastSeenAt: s.last_seen_at.toISOString(),
        expiresAt: s.expires_at.toISOString(),
        current: s.id === user.sessionId,
      }));
    },
  });

  app.route({
    ...ApiRoutes.revokeSession,
    handler: async (request, reply) => {
      const revoked = await sessions.revoke(userOf(request).id, request.params.id);
      if (!revoked) throw new HttpProblem(404, 'NOT_FOUND', 'Not Found', 'Session not found');
      authenticate.forget({ sessionId: request.params.id });
      return reply.code(204).send(null);
    },
  });
};
