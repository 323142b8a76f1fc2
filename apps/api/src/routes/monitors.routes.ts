import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiRoutes } from '@crucible/contracts/api';
import type { Authenticate } from '@crucible/runtime';
import { actorOf, requireActor } from '../plugins/auth.js';
import type { MonitorsService } from '../services/monitors/service.js';
import type { WorkspaceAccess } from '../services/workspace-access.js';

export interface MonitorsRoutesOptions {
  authenticate: Authenticate;
  access: WorkspaceAccess;
  service: MonitorsService;
}

/** Monitors of the request's workspace: another workspace's monitor is 404, as for tests. */
export const monitorsRoutes: FastifyPluginAsyncTypebox<MonitorsRoutesOptions> = async (app, opts) => {
  const { service } = opts;
  app.addHook('onRequest', requireActor(opts.authenticate, opts.access));

  app.route({
    ...ApiRoutes.createMonitor,
    config: { workspaceAction: 'monitor:write' },
    handler: async (request, reply) => reply.code(201).send(await service.create(actorOf(request), request.body)),
  });
  app.route({
    ...ApiRoutes.deployMonitors,
    config: { workspaceAction: 'monitor:write' },
    handler: async (request) => service.deploy(actorOf(request), request.body),
  });
  app.route({
    ...ApiRoutes.listMonitors,
    config: { workspaceAction: 'monitor:read' },
    handler: async (request) => ({ items: await service.list(actorOf(request)) }),
  });
  app.route({
    ...ApiRoutes.getMonitor,
    config: { workspaceAction: 'monitor:read' },
    handler: async (request) => service.get(actorOf(request), request.params.id),
  });
  app.route({
    ...ApiRoutes.updateMonitor,
    config: { workspaceAction: 'monitor:write' },
    handler: async (request) => service.update(actorOf(request), request.params.id, request.body),
  });
  app.route({
    ...ApiRoutes.deleteMonitor,
    config: { workspaceAction: 'monitor:write' },
    handler: async (request, reply) => {
      await service.delete(actorOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  });
  app.route({
    ...ApiRoutes.runMonitor,
    config: { workspaceAction: 'monitor:write' },
    handler: async (request, reply) => reply.code(202).send(await service.runNow(actorOf(request), request.params.id)),
  });
  app.route({
    ...ApiRoutes.listMonitorRuns,
    config: { workspaceAction: 'monitor:read' },
    handler: async (request) => service.runs(actorOf(request), request.params.id, request.query),
  });
};
