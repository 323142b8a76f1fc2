import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Authenticate } from '@crucible/runtime';
import type {
  InvitationsRepository,
  PlatformMaintenanceRepository,
  PlatformMaintenanceRow,
  SystemAlertsRepository,
  UsersRepository,
  WorkspacesRepository,
} from '@crucible/db';
import { Channels, Events, systemMaintenanceStart } from '@crucible/contracts';
import { systemAlertOf } from '@crucible/notify';
import type { Cache } from '@crucible/cache';
import { ApiRoutes } from '@crucible/contracts/api';
import { forbidden, notFound } from '../errors.js';
import { requireUser, userOf } from '../plugins/auth.js';
import {
  INVITATION_TTL_MS,
  invitationTokenHash,
  invitationView,
  newInvitationToken,
} from '../services/invitations.js';
import type { QuotasService } from '../services/quotas/quotas.js';
import { AuditActions } from '../services/audit.js';
import type { Audit } from '../services/audit.js';
import type { Publish } from '../services/tests/events.js';

export interface AdminRoutesOptions {
  authenticate: Authenticate;
  cache: Cache;
  users: UsersRepository;
  invitations: InvitationsRepository;
  workspaces: Pick<WorkspacesRepository, 'findById'>;
  quotas: Pick<QuotasService, 'overrides' | 'setOverrides'>;
  audit: Audit;
  platformMaintenance: PlatformMaintenanceRepository;
  systemAlerts: SystemAlertsRepository;
  publish: Publish;
}

const maintenanceView = (m: PlatformMaintenanceRow | undefined) => ({
  maintenance: m
    ? {
        id: m.id,
        message: m.message,
        startedAt: m.started_at.toISOString(),
        until: m.until?.toISOString() ?? null,
      }
    : null,
});

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
    ...ApiRoutes.listSystemAlerts,
    handler: async (request) => {
      const { items, nextCursor } = await opts.systemAlerts.list({
        status: request.query.status,
        limit: request.query.limit ?? 50,
        cursor: request.query.cursor,
      });
      return {
        items: items.map(systemAlertOf),
        nextCursor,
      };
    },
  });

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

  /** Any workspace, member or not: quotas are the instance's to set. */
  const workspaceOf = async (id: string) => {
    if (!(await opts.workspaces.findById(id))) throw notFound('Workspace');
    return id;
  };

  app.route({
    ...ApiRoutes.getWorkspaceQuotas,
    handler: async (request) => opts.quotas.overrides(await workspaceOf(request.params.id)),
  });

  app.route({
    ...ApiRoutes.setWorkspaceQuotas,
    handler: async (request) => {
      const workspaceId = await workspaceOf(request.params.id);
      const set = await opts.quotas.setOverrides(workspaceId, request.body);
      await opts.audit(userOf(request), workspaceId, AuditActions.QUOTAS_CHANGED, undefined, {
        changed: request.body,
      });
      return set;
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

  // Platform maintenance: stored (one under way at most) and announced to every signed-in user.
  app.route({
    ...ApiRoutes.getPlatformMaintenance,
    handler: async () => maintenanceView(await opts.platformMaintenance.current()),
  });

  app.route({
    ...ApiRoutes.startPlatformMaintenance,
    handler: async (request) => {
      const { message, until } = request.body;
      const m = await opts.platformMaintenance.start({
        message,
        until: until ? new Date(until) : null,
        startedBy: userOf(request).id,
      });
      await opts.publish(
        Events.SYSTEM_MAINTENANCE_START,
        Channels.SYSTEM_MAINTENANCE,
        systemMaintenanceStart({ id: m.id, message: m.message, startedAt: m.started_at, until: m.until }),
        null,
      );
      return maintenanceView(m);
    },
  });

  app.route({
    ...ApiRoutes.endPlatformMaintenance,
    handler: async () => {
      const ended = await opts.platformMaintenance.end();
      if (ended) {
        await opts.publish(
          Events.SYSTEM_MAINTENANCE_END,
          Channels.SYSTEM_MAINTENANCE,
          { id: ended.id, endedAt: (ended.ended_at ?? new Date()).toISOString() },
          null,
        );
      }
      return maintenanceView(undefined);
    },
  });
};
