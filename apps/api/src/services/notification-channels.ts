import { FormatRegistry } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { NotificationData } from '@crucible/contracts';
import { ChannelConfigSchemas, SECRET_CONFIG_FIELDS } from '@crucible/contracts/api';
import type { ChannelCreate, ChannelTemplates, ChannelUpdate, ChannelView } from '@crucible/contracts/api';
import type {
  NotificationChannelRow,
  NotificationChannelsRepository,
  NotificationDeliveriesRepository,
  WorkspaceMembersRepository,
} from '@crucible/db';
import type { Allowlist } from '@crucible/egress';
import { TemplateError, checkTemplates, generateWebhookSecret, providerUrl } from '@crucible/notify';
import type { Dispatcher, HttpChannelType, NotifySettings } from '@crucible/notify';
import { HttpProblem, notFound } from '../errors.js';
import { validateTargetUrl } from './tests/validation.js';
import type { Actor } from './workspace-access.js';

export interface NotificationChannelsDeps {
  channels: NotificationChannelsRepository;
  deliveries: NotificationDeliveriesRepository;
  members: Pick<WorkspaceMembersRepository, 'roleOf'>;
  /** Sends a channel's test notification at once (never started: the workers' dispatchers poll). */
  dispatcher: Pick<Dispatcher, 'deliverNow'>;
  settings: NotifySettings;
  targetAllowlist?: Allowlist;
}

/** A credential as the API shows it again: its last four characters. */
const masked = (value: unknown) => (typeof value === 'string' ? `…${value.slice(-4)}` : value);

export function channelView(row: NotificationChannelRow): ChannelView {
  const config = { ...(row.config as Record<string, unknown>) };
  for (const field of SECRET_CONFIG_FIELDS[row.type] ?? []) config[field] = masked(config[field]);
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    name: row.name,
    type: row.type,
    config,
    templates: row.templates as ChannelTemplates,
    enabled: row.enabled,
    disabledReason: row.disabled_reason,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

// TypeBox's own checker (a PATCH's `config`, checked against the channel's type) knows no formats
// until told; Ajv checked them on the way in for a new channel.
if (!FormatRegistry.Has('email')) FormatRegistry.Set('email', (v) => /^[^\s@]+@[^\s@]+$/.test(v));
if (!FormatRegistry.Has('uuid')) {
  FormatRegistry.Set('uuid', (v) =>
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v),
  );
}

const badRequest = (code: string, detail: string) => new HttpProblem(400, code, 'Bad Request', detail);

export function createNotificationChannels(deps: NotificationChannelsDeps) {
  const retryForMs = () => deps.settings.retryHours * 3_600_000;

  /** What a channel of `type` may hold: its schema, its URL past the egress guard, members as recipients. */
  async function checkConfig(actor: Actor, type: ChannelCreate['type'], config: unknown): Promise<void> {
    if (!Value.Check(ChannelConfigSchemas[type], config)) {
      const first = [...Value.Errors(ChannelConfigSchemas[type], config)][0];
      throw badRequest('INVALID_BODY', `config${first?.path ?? ''}: ${first?.message ?? 'invalid'}`);
    }
    if (type === 'email' && !deps.settings.smtpUrl) {
      throw badRequest('EMAIL_NOT_CONFIGURED', 'this deployment has no SMTP server (SMTP_URL)');
    }
    if (type === 'in-app') {
      for (const userId of (config as { userIds?: string[] }).userIds ?? []) {
        if (!(await deps.members.roleOf(actor.workspaceId, userId))) {
          throw badRequest('INVALID_RECIPIENT', `user ${userId} is not a member of this workspace`);
        }
      }
      return;
    }
    if (type === 'email') return;
    // Refused addresses are refused now; names are checked again, resolved, at every send.
    validateTargetUrl(
      providerUrl(type as HttpChannelType, config as Record<string, unknown>, deps.settings),
      deps.targetAllowlist,
    );
  }

  function checkOwnTemplates(templates: ChannelTemplates | undefined): void {
    try {
      checkTemplates(templates);
    } catch (err) {
      if (err instanceof TemplateError) throw badRequest('INVALID_TEMPLATE', err.message);
      throw err;
    }
  }

  async function find(actor: Actor, id: string): Promise<NotificationChannelRow> {
    const row = await deps.channels.find(actor.workspaceId, id);
    if (!row) throw notFound('Notification channel');
    return row;
  }

  return {
    async create(actor: Actor, body: ChannelCreate) {
      await checkConfig(actor, body.type, body.config);
      checkOwnTemplates(body.templates);
      const secret = body.type === 'webhook' ? generateWebhookSecret() : null;
      const row = await deps.channels.create({
        workspaceId: actor.workspaceId,
        createdBy: actor.id,
        name: body.name,
        type: body.type,
        config: body.config,
        secret,
        templates: body.templates ?? {},
      });
      return { ...channelView(row), ...(secret && { secret }) };
    },

    list: async (actor: Actor) => ({ items: (await deps.channels.list(actor.workspaceId)).map(channelView) }),
    get: async (actor: Actor, id: string) => channelView(await find(actor, id)),

    async update(actor: Actor, id: string, change: ChannelUpdate) {
      const row = await find(actor, id);
      if (change.config !== undefined) await checkConfig(actor, row.type, change.config);
      checkOwnTemplates(change.templates);
      const updated = await deps.channels.update(actor.workspaceId, id, change);
      if (!updated) throw notFound('Notification channel');
      return channelView(updated);
    },

    async remove(actor: Actor, id: string) {
      if (!(await deps.channels.delete(actor.workspaceId, id))) throw notFound('Notification channel');
    },

    /** Writes a `test.notification` to the channel and sends it now; later attempts are the workers'. */
    async test(actor: Actor, id: string) {
      const row = await find(actor, id);
      const data: NotificationData = {
        severity: 'info',
        title: 'Test notification from Crucible',
        message: `This is a test of the channel "${row.name}". If you can read it, the channel works.`,
      };
      const { eventId, deliveries } = await deps.deliveries.enqueue({
        workspaceId: actor.workspaceId,
        type: 'test.notification',
        data,
        channelIds: [row.id],
        retryForMs: retryForMs(),
      });
      const deliveryId = deliveries[0]!.deliveryId;
      const report = await deps.dispatcher.deliverNow(deliveryId);
      return {
        deliveryId,
        eventId,
        status: report?.status ?? 'pending',
        responseStatus: report?.responseStatus ?? null,
        error: report?.error ?? null,
        durationMs: report?.durationMs ?? null,
      };
    },

    async trail(actor: Actor, id: string, limit: number, cursor: string | undefined) {
      await find(actor, id);
      if (cursor !== undefined && !/^\d{1,18}$/.test(cursor))
        throw badRequest('INVALID_CURSOR', 'cursor: not one this list gave');
      const lines = await deps.deliveries.trail(id, limit + 1, cursor);
      const page = lines.slice(0, limit);
      return {
        items: page.map(({ id: _id, at, ...line }) => ({ ...line, at: at.toISOString() })),
        nextCursor: lines.length > limit ? page.at(-1)!.id : null,
      };
    },
  };
}

export type NotificationChannels = ReturnType<typeof createNotificationChannels>;
