import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiRoutes } from '@crucible/contracts/api';
import type { Authenticate } from '@crucible/runtime';
import { requireUser, userOf } from '../plugins/auth.js';
import type { AuditLogRepository } from '@crucible/db';
import { auditPage } from '../services/audit.js';
import type { WorkspaceAccess } from '../services/workspace-access.js';
import type { WorkspacesService } from '../services/workspaces.js';
import type { QuotasService } from '../services/quotas/quotas.js';

export interface WorkspacesRoutesOptions {
  authenticate: Authenticate;
  access: WorkspaceAccess;
  service: WorkspacesService;
  auditLog: Pick<AuditLogRepository, 'list'>;
  quotas: Pick<QuotasService, 'usage'>;
}

/**
 * Workspaces, their members and invitations. Each route that acts in a workspace (`:id`) asks the
 * policy for its action first: 404 for a non-member, 403 `FORBIDDEN_ROLE` for a role too low.
 */
export const workspacesRoutes: FastifyPluginAsyncTypebox<WorkspacesRoutesOptions> = async (app, opts) => {
  const { access, service } = opts;
  app.addHook('onRequest', requireUser(opts.authenticate));

  app.route({
    ...ApiRoutes.createWorkspace,
    handler: async (request, reply) =>
      reply.code(201).send(await service.create(userOf(request), request.body.name)),
  });

  app.route({
    ...ApiRoutes.listWorkspaces,
    handler: async (request) => ({ items: await service.list(userOf(request)) }),
  });

  app.route({
    ...ApiRoutes.getWorkspace,
    handler: async (request) =>
      service.get(await access.actor(userOf(request), request.params.id, 'workspace:read')),
  });

  app.route({
    ...ApiRoutes.updateWorkspace,
    handler: async (request) =>
      service.rename(
        await access.actor(userOf(request), request.params.id, 'workspace:update'),
        request.body.name,
      ),
  });

  app.route({
    ...ApiRoutes.deleteWorkspace,
    handler: async (request, reply) => {
      await service.delete(await access.actor(userOf(request), request.params.id, 'workspace:delete'));
      return reply.code(204).send(null);
    },
  });

  app.route({
    ...ApiRoutes.workspaceUsage,
    handler: async (request) =>
      opts.quotas.usage(
        (await access.actor(userOf(request), request.params.id, 'workspace:read')).workspaceId,
      ),
  });

  app.route({
    ...ApiRoutes.listMembers,
    handler: async (request) => ({
      items: await service.members(await access.actor(userOf(request), request.params.id, 'member:read')),
    }),
  });

  app.route({
    ...ApiRoutes.updateMember,
    handler: async (request, reply) => {
      const actor = await access.actor(userOf(request), request.params.id, 'member:update');
      await service.setRole(actor, request.params.userId, request.body.role);
      return reply.code(204).send(null);
    },
  });

  app.route({
    ...ApiRoutes.removeMember,
    handler: async (request, reply) => {
      const user = userOf(request);
      // Leaving is anyone's right: removing oneself needs only membership.
      const action = request.params.userId === user.id ? 'workspace:read' : 'member:remove';
      await service.remove(await access.actor(user, request.params.id, action), request.params.userId);
      return reply.code(204).send(null);
    },
  });

  app.route({
    ...ApiRoutes.createWorkspaceInvitation,
    handler: async (request, reply) => {
      const actor = await access.actor(userOf(request), request.params.id, 'member:invite');
      return reply.code(201).send(await service.invite(actor, request.body.email, request.body.role));
    },
  });

  app.route({
    ...ApiRoutes.listWorkspaceInvitations,
    handler: async (request) => ({
      items: await service.pendingInvitations(
        await access.actor(userOf(request), request.params.id, 'member:invite'),
      ),
    }),
  });

  app.route({
    ...ApiRoutes.revokeWorkspaceInvitation,
    handler: async (request, reply) => {
      const actor = await access.actor(userOf(request), request.params.id, 'invitation:revoke');
      await service.revokeInvitation(actor, request.params.invitationId);
      return reply.code(204).send(null);
    },
  });

  app.route({
    ...ApiRoutes.workspaceAudit,
    handler: async (request) =>
      auditPage(
        opts.auditLog,
        await access.actor(userOf(request), request.params.id, 'audit:read'),
        request.query,
      ),
  });

  app.route({
    ...ApiRoutes.acceptInvitation,
    handler: async (request) => service.accept(userOf(request), request.params.token),
  });
};
