import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Authenticate, InvitationsRepository, UsersRepository } from '@crucible/db';
import { ApiRoutes } from '@crucible/shared/api';
import type { Cache } from '@crucible/shared/cache';
import { forbidden, notFound } from '../errors.js';
import { requireUser, userOf } from '../plugins/auth.js';
import {
  INVITATION_TTL_MS,
  invitationTokenHash,
  invitationView,
  newInvitationToken,
} from '../services/invitations.js';

export interface AdminRoutesOptions {
  authenticate: Authenticate;
  cache: Cache;
  users: UsersRepository;
  invitations: InvitationsRepository;
}

/** The newest users (and invitations) an admin sees on the dashboard's admin page. */
const USERS_SHOWN = 200;

/** Operator views; every route answers 403 to anyone but an admin. */
export const adminRoutes: FastifyPluginAsyncTypebox<AdminRoutesOptions> = async (app, opts) => {
  app.addHook('onRequest', requireUser(opts.authenticate));
  app.addHook('preHandler', async (request) => {
    if (userOf(request).role !== 'admin') throw forbidden();
  });

  app.route({ ...ApiRoutes.cacheStats, handler: async () => opts.cache.stats() });

  app.route({
    ...ApiRoutes.listUsers,
    handler: async () => {
      const { users, total } = await opts.users.list(USERS_SHOWN);
      return {
        items: users.map((u) => ({
          id: u.id,
          email: u.email,
          role: u.role,
          createdAt: u.created_at.toISOString(),
        })),
        total,
      };
    },
  });

  app.route({
    ...ApiRoutes.createInvitation,
    handler: async (request, reply) => {
      const token = newInvitationToken();
      const row = await opts.invitations.create({
        tokenHash: invitationTokenHash(token),
        email: request.body.email?.trim().toLowerCase() ?? null,
        createdBy: userOf(request).id,
        expiresAt: new Date(Date.now() + INVITATION_TTL_MS),
      });
      return reply.code(201).send({ invitationId: row.id, token, expiresAt: row.expires_at.toISOString() });
    },
  });

  app.route({
    ...ApiRoutes.listInvitations,
    handler: async () => {
      const now = new Date();
      return { items: (await opts.invitations.list(USERS_SHOWN)).map((row) => invitationView(row, now)) };
    },
  });

  app.route({
    ...ApiRoutes.revokeInvitation,
    handler: async (request, reply) => {
      if (!(await opts.invitations.revoke(request.params.id))) throw notFound('Unused invitation');
      return reply.code(204).send(null);
    },
  });
};
