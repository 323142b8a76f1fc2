import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Authenticate } from '@crucible/db';
import { ApiRoutes } from '@crucible/shared/api';
import type { Cache } from '@crucible/shared/cache';
import { forbidden } from '../errors.js';
import { requireUser, userOf } from '../plugins/auth.js';

export interface AdminRoutesOptions {
  authenticate: Authenticate;
  cache: Cache;
}

/** Operator views; every route answers 403 to anyone but an admin. */
export const adminRoutes: FastifyPluginAsyncTypebox<AdminRoutesOptions> = async (app, opts) => {
  app.addHook('onRequest', requireUser(opts.authenticate));
  app.addHook('preHandler', async (request) => {
    if (userOf(request).role !== 'admin') throw forbidden();
  });

  app.route({ ...ApiRoutes.cacheStats, handler: async () => opts.cache.stats() });
};
