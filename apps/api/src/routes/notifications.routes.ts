import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { userNotification } from '@crucible/contracts';
import { ApiRoutes } from '@crucible/contracts/api';
import type { ChannelCreate } from '@crucible/contracts/api';
import type { NotificationPreferencesRepository, NotificationRow, NotificationsRepository } from '@crucible/db';
import type { Authenticate } from '@crucible/runtime';
import { HttpProblem, notFound } from '../errors.js';
import { actorOf, requireActor, userOf } from '../plugins/auth.js';
import type { NotificationChannels } from '../services/notification-channels.js';
import type { WorkspaceAccess } from '../services/workspace-access.js';

export interface NotificationsRoutesOptions {
  authenticate: Authenticate;
  access: WorkspaceAccess;
  channels: NotificationChannels;
  notifications: NotificationsRepository;
  preferences: NotificationPreferencesRepository;
}

const viewOf = (row: NotificationRow) =>
  userNotification({
    id: row.id,
    workspaceId: row.workspace_id,
    title: row.title,
    body: row.body,
    severity: row.severity,
    incidentId: row.incident_id,
    createdAt: row.created_at,
    readAt: row.read_at,
  });

/**
 * A workspace's notification channels (each route names its action in the workspace policy) and
 * the caller's own in-app notifications (theirs whatever the workspace: nobody else's are found).
 */
export const notificationsRoutes: FastifyPluginAsyncTypebox<NotificationsRoutesOptions> = async (
  app,
  opts,
) => {
  const { channels, notifications, preferences } = opts;
  app.addHook('onRequest', requireActor(opts.authenticate, opts.access));

  const preferencesView = async (userId: string) => {
    const prefs = await preferences.get(userId);
    return { ...prefs, mutedUntil: prefs.mutedUntil?.toISOString() ?? null };
  };
  app.route({
    ...ApiRoutes.getNotificationPreferences,
    handler: async (request) => preferencesView(userOf(request).id),
  });
  app.route({
    ...ApiRoutes.putNotificationPreferences,
    handler: async (request) => {
      const user = userOf(request);
      const { quietHours, minSeverity, mutedUntil } = request.body;
      if (quietHours && quietHours.start === quietHours.end)
        throw new HttpProblem(400, 'INVALID_QUIET_HOURS', 'Bad Request', 'quietHours: start and end are the same');
      if (quietHours && !(await preferences.knowsTimezone(quietHours.timezone)))
        throw new HttpProblem(
          400,
          'INVALID_TIMEZONE',
          'Bad Request',
          `quietHours.timezone: "${quietHours.timezone}" is not a known time zone`,
        );
      const channelIds = Object.keys(minSeverity);
      if ((await preferences.ownChannels(user.id, channelIds)) !== channelIds.length)
        throw notFound('Notification channel');
      await preferences.put(user.id, {
        quietHours,
        minSeverity,
        mutedUntil: mutedUntil === null ? null : new Date(mutedUntil),
      });
      return preferencesView(user.id);
    },
  });
  app.route({
    ...ApiRoutes.createNotificationChannel,
    config: { workspaceAction: 'notificationChannel:manage' },
    // The schema's union is checked by Ajv's discriminator; its static type is the per-type one.
    handler: async (request, reply) =>
      reply.code(201).send(await channels.create(actorOf(request), request.body as ChannelCreate)),
  });
  app.route({
    ...ApiRoutes.listNotificationChannels,
    config: { workspaceAction: 'notificationChannel:read' },
    handler: async (request) => channels.list(actorOf(request)),
  });
  app.route({
    ...ApiRoutes.getNotificationChannel,
    config: { workspaceAction: 'notificationChannel:read' },
    handler: async (request) => channels.get(actorOf(request), request.params.id),
  });
  app.route({
    ...ApiRoutes.updateNotificationChannel,
    config: { workspaceAction: 'notificationChannel:manage' },
    handler: async (request) => channels.update(actorOf(request), request.params.id, request.body),
  });
  app.route({
    ...ApiRoutes.deleteNotificationChannel,
    config: { workspaceAction: 'notificationChannel:manage' },
    handler: async (request, reply) => {
      await channels.remove(actorOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  });
  app.route({
    ...ApiRoutes.testNotificationChannel,
    config: { workspaceAction: 'notificationChannel:test' },
    handler: async (request) => channels.test(actorOf(request), request.params.id),
  });
  app.route({
    ...ApiRoutes.listChannelDeliveries,
    config: { workspaceAction: 'notificationChannel:read' },
    handler: async (request) =>
      channels.trail(actorOf(request), request.params.id, request.query.limit ?? 50, request.query.cursor),
  });

  app.route({
    ...ApiRoutes.listNotifications,
    handler: async (request) => {
      const user = userOf(request);
      const { unread, limit = 20, cursor } = request.query;
      if (cursor !== undefined && !/^[A-Za-z0-9_-]+$/.test(cursor)) {
        throw new HttpProblem(400, 'INVALID_CURSOR', 'Bad Request', 'cursor: not one this list gave');
      }
      const page = await notifications.list(user.id, { unread, limit, cursor });
      return {
        items: page.items.map(viewOf),
        unread: await notifications.unreadCount(user.id),
        nextCursor: page.nextCursor,
      };
    },
  });
  app.route({
    ...ApiRoutes.readNotification,
    handler: async (request) => {
      const row = await notifications.read(userOf(request).id, request.params.id);
      if (!row) throw notFound('Notification');
      return viewOf(row);
    },
  });
  app.route({
    ...ApiRoutes.readAllNotifications,
    handler: async (request) => {
      const user = userOf(request);
      const read = await notifications.readAll(user.id);
      return { read, unread: await notifications.unreadCount(user.id) };
    },
  });
};
