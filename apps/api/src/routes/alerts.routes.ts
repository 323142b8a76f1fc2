import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiRoutes } from '@crucible/contracts/api';
import type { Authenticate } from '@crucible/runtime';
import { actorOf, requireActor } from '../plugins/auth.js';
import type { AlertRules, Incidents } from '../services/alerts.js';
import type { WorkspaceAccess } from '../services/workspace-access.js';

export interface AlertsRoutesOptions {
  authenticate: Authenticate;
  access: WorkspaceAccess;
  rules: AlertRules;
  incidents: Incidents;
}

/** Alert rules and incidents of the request's workspace: another workspace's are 404. */
export const alertsRoutes: FastifyPluginAsyncTypebox<AlertsRoutesOptions> = async (app, opts) => {
  const { rules, incidents } = opts;
  app.addHook('onRequest', requireActor(opts.authenticate, opts.access));

  app.route({
    ...ApiRoutes.createAlertRule,
    config: { workspaceAction: 'alert:write' },
    handler: async (request, reply) =>
      reply.code(201).send(await rules.createRule(actorOf(request), request.body)),
  });
  app.route({
    ...ApiRoutes.listAlertRules,
    config: { workspaceAction: 'alert:read' },
    handler: async (request) => rules.listRules(actorOf(request)),
  });
  app.route({
    ...ApiRoutes.getAlertRule,
    config: { workspaceAction: 'alert:read' },
    handler: async (request) => rules.getRule(actorOf(request), request.params.id),
  });
  app.route({
    ...ApiRoutes.updateAlertRule,
    config: { workspaceAction: 'alert:write' },
    handler: async (request) => rules.updateRule(actorOf(request), request.params.id, request.body),
  });
  app.route({
    ...ApiRoutes.deleteAlertRule,
    config: { workspaceAction: 'alert:write' },
    handler: async (request, reply) => {
      await rules.deleteRule(actorOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  });
  app.route({
    ...ApiRoutes.listIncidents,
    config: { workspaceAction: 'alert:read' },
    handler: async (request) => incidents.listIncidents(actorOf(request), request.query),
  });
  app.route({
    ...ApiRoutes.incidentStats,
    config: { workspaceAction: 'alert:read' },
    handler: async (request) => incidents.stats(actorOf(request), request.query),
  });
  app.route({
    ...ApiRoutes.getIncident,
    config: { workspaceAction: 'alert:read' },
    handler: async (request) => incidents.getIncident(actorOf(request), request.params.id),
  });
  app.route({
    ...ApiRoutes.acknowledgeIncident,
    config: { workspaceAction: 'alert:write' },
    handler: async (request) => incidents.acknowledge(actorOf(request), request.params.id),
  });
  app.route({
    ...ApiRoutes.resolveIncident,
    config: { workspaceAction: 'alert:write' },
    handler: async (request) => incidents.resolve(actorOf(request), request.params.id),
  });
};
