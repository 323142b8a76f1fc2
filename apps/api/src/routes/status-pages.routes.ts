import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiRoutes, PublicStatusParams } from '@crucible/contracts/api';
import type { Authenticate } from '@crucible/runtime';
import { notFound } from '../errors.js';
import { actorOf, requireActor } from '../plugins/auth.js';
import { STATUS_PAGE_CSP, renderStatusPage } from '../services/monitors/status-page-html.js';
import type { StatusPagesService } from '../services/monitors/status-pages.js';
import type { WorkspaceAccess } from '../services/workspace-access.js';

export interface StatusPagesRoutesOptions {
  authenticate: Authenticate;
  access: WorkspaceAccess;
  service: StatusPagesService;
}

/** Status pages of the request's workspace: another workspace's is 404. */
export const statusPagesRoutes: FastifyPluginAsyncTypebox<StatusPagesRoutesOptions> = async (app, opts) => {
  const { service } = opts;
  app.addHook('onRequest', requireActor(opts.authenticate, opts.access));

  app.route({
    ...ApiRoutes.createStatusPage,
    config: { workspaceAction: 'monitor:write' },
    handler: async (request, reply) =>
      reply.code(201).send(await service.create(actorOf(request), request.body)),
  });
  app.route({
    ...ApiRoutes.listStatusPages,
    config: { workspaceAction: 'monitor:read' },
    handler: async (request) => ({ items: await service.list(actorOf(request)) }),
  });
  app.route({
    ...ApiRoutes.getStatusPage,
    config: { workspaceAction: 'monitor:read' },
    handler: async (request) => service.get(actorOf(request), request.params.id),
  });
  app.route({
    ...ApiRoutes.updateStatusPage,
    config: { workspaceAction: 'monitor:write' },
    handler: async (request) => service.update(actorOf(request), request.params.id, request.body),
  });
  app.route({
    ...ApiRoutes.deleteStatusPage,
    config: { workspaceAction: 'monitor:write' },
    handler: async (request, reply) => {
      await service.delete(actorOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  });
};

const SLUG = /^[a-z0-9][a-z0-9-]{1,62}$/;

/** Whether the client asked for JSON rather than a page (`Accept: application/json`, no `text/html`). */
const wantsJson = (accept: string | undefined) =>
  !!accept && accept.includes('application/json') && !accept.includes('text/html');

/**
 * `GET /status/:slug` (HTML, or JSON for `Accept: application/json`) and `GET /status/:slug.json`:
 * public, no credential read, cacheable by anyone for 30 s. Not part of the JSON API's document.
 */
export const publicStatusRoutes: FastifyPluginAsyncTypebox<{ service: StatusPagesService }> = async (
  app,
  opts,
) => {
  app.get('/status/:slug', { schema: { params: PublicStatusParams } }, async (request, reply) => {
    const asked = request.params.slug;
    const json = asked.endsWith('.json') || wantsJson(request.headers.accept);
    const slug = asked.replace(/\.json$/, '');
    const page = SLUG.test(slug) ? await opts.service.read(slug) : undefined;
    reply.header('vary', 'accept');
    if (!page) throw notFound('Status page');
    reply.header('cache-control', 'public, max-age=30');
    if (json) return reply.type('application/json; charset=utf-8').send(page);
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', STATUS_PAGE_CSP)
      .send(renderStatusPage(page));
  });
};
