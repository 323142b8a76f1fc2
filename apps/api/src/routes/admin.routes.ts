import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Authenticate, UsersRepository } from '@crucible/db';
import { ApiRoutes } from '@crucible/shared/api';
import type { Cache } from '@crucible/shared/cache';
import { forbidden } from '../errors.js';
import { requireUser, userOf } from '../plugins/auth.js';

export interface AdminRoutesOptions {
  authenticate: Authenticate;
  cache: Cache;
  users: UsersRepository;
}

/** The newest users an admin sees on the dashboard's admin page. */
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
};
