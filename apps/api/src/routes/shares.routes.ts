import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ApiRoutes } from '@crucible/contracts/api';
import type { Authenticate } from '@crucible/runtime';
import { actorOf, requireActor } from '../plugins/auth.js';
import type { SharesService } from '../services/shares.js';
import type { WorkspaceAccess } from '../services/workspace-access.js';

export interface SharesRoutesOptions {
  authenticate: Authenticate;
  access: WorkspaceAccess;
  service: SharesService;
}

/** A test's share links (member+ to make and revoke, any member to list) and the public read. */
export const sharesRoutes: FastifyPluginAsyncTypebox<SharesRoutesOptions> = async (app, opts) => {
  const { service } = opts;

  // No sign-in: the share id is the credential. Never cached by anyone in between: a revoked
  // link must stop at once.
  app.route({
    ...ApiRoutes.getShared,
    handler: async (request, reply) => {
      reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
      return service.read(request.params.shareId);
    },
  });

  await app.register(async (members) => {
    const scope = members.withTypeProvider<TypeBoxTypeProvider>();
    scope.addHook('onRequest', requireActor(opts.authenticate, opts.access));

    scope.route({
      ...ApiRoutes.createShare,
      config: { workspaceAction: 'test:share' },
      handler: async (request, reply) => {
        const origin = `${request.protocol}://${request.host}`;
        return reply
          .code(201)
          .send(
            await service.create(actorOf(request), request.params.testId, request.body.expiresAt, origin),
          );
      },
    });

    scope.route({
      ...ApiRoutes.listShares,
      config: { workspaceAction: 'test:read' },
      handler: async (request) => ({ items: await service.list(actorOf(request), request.params.testId) }),
    });

    scope.route({
      ...ApiRoutes.revokeShare,
      config: { workspaceAction: 'test:share' },
      handler: async (request, reply) => {
        await service.revoke(actorOf(request), request.params.testId, request.params.shareId);
        return reply.code(204).send(null);
      },
    });
  });
};
