import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiRoutes } from '@crucible/contracts/api';
import type { Authenticate } from '@crucible/runtime';
import { actorOf, requireActor } from '../plugins/auth.js';
import type { MaintenanceWindowsService } from '../services/monitors/maintenance-windows.js';
import type { WorkspaceAccess } from '../services/workspace-access.js';

export interface MaintenanceWindowsRoutesOptions {
  authenticate: Authenticate;
  access: WorkspaceAccess;
  service: MaintenanceWindowsService;
}

/** Maintenance windows of the request's workspace: another workspace's is 404. */
export const maintenanceWindowsRoutes: FastifyPluginAsyncTypebox<MaintenanceWindowsRoutesOptions> = async (
  app,
  opts,
) => {
  const { service } = opts;
  app.addHook('onRequest', requireActor(opts.authenticate, opts.access));

  app.route({
    ...ApiRoutes.createMaintenanceWindow,
    config: { workspaceAction: 'monitor:write' },
    handler: async (request, reply) =>
      reply.code(201).send(await service.create(actorOf(request), request.body)),
  });
  app.route({
    ...ApiRoutes.listMaintenanceWindows,
    config: { workspaceAction: 'monitor:read' },
    handler: async (request) => ({ items: await service.list(actorOf(request)) }),
  });
  app.route({
    ...ApiRoutes.getMaintenanceWindow,
    config: { workspaceAction: 'monitor:read' },
    handler: async (request) => service.get(actorOf(request), request.params.id),
  });
  app.route({
    ...ApiRoutes.updateMaintenanceWindow,
    config: { workspaceAction: 'monitor:write' },
    handler: async (request) => service.update(actorOf(request), request.params.id, request.body),
  });
  app.route({
    ...ApiRoutes.deleteMaintenanceWindow,
    config: { workspaceAction: 'monitor:write' },
    handler: async (request, reply) => {
      await service.delete(actorOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  });
};
