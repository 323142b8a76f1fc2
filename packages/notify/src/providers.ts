import type { ChannelType, NotificationData, NotificationEventType, Severity } from '@crucible/contracts';
import type { ChannelConfigs } from '@crucible/contracts/api';
import { signWebhook, webhookIdOf } from './signing.js';
import type { NotifySettings } from './settings.js';
import type { RenderedNotification } from './templates.js';

/** The HTTP channel types: everything but in-app and email. */
export type HttpChannelType = Exclude<ChannelType, 'in-app' | 'email'>;

/** One event to one channel, as its provider's documented request. */
export interface ProviderRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface OutgoingEvent {
  deliveryId: string;
  eventId: string;
  type: NotificationEventType;
  data: NotificationData;
  createdAt: Date;
}

type Build<T extends HttpChannelType> = (
  config: ChannelConfigs[T],
  rendered: RenderedNotification,
  event: OutgoingEvent,
  ctx: { settings: NotifySettings; secret: string | null; now: Date },
) => ProviderRequest;

const JSON_HEADERS = { 'content-type': 'application/json', 'user-agent': 'Crucible-Notify/1' };

const post = (url: string, body: unknown, headers: Record<string, string> = {}): ProviderRequest => ({
  url,
  headers: { ...JSON_HEADERS, ...headers },
  body: JSON.stringify(body),
});

/** The notification's dashboard link (`withLinks`), if `PUBLIC_URL` is set. */
const linkOf = (event: OutgoingEvent) => (typeof event.data.url === 'string' ? event.data.url : undefined);

const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/**
 * An incident's key; a system alert's own (one per alert, firing to resolved); a test notification
 * gets one of its own so it never touches a real incident.
 */
const dedupKeyOf = (event: OutgoingEvent) =>
  event.data.incident?.key ??
  (event.data.systemAlert
    ? `crucible-system-${event.data.systemAlert.id}`
    : `crucible-test-${event.eventId}`);

type Action = 'open' | 'acknowledge' | 'resolve';
const ACTIONS: Record<NotificationEventType, Action> = {
  'incident.opened': 'open',
  'incident.reminder': 'open',
  'incident.acknowledged': 'acknowledge',
  'incident.resolved': 'resolve',
  'test.notification': 'open',
  'system.alert.firing': 'open',
  'system.alert.resolved': 'resolve',
};

const PAGERDUTY_ACTIONS: Record<Action, string> = {
  open: 'trigger',
  acknowledge: 'acknowledge',
  resolve: 'resolve',
};
const OPSGENIE_PRIORITY: Record<Severity, string> = { critical: 'P1', warning: 'P3', info: 'P5' };
const DISCORD_COLOUR: Record<Severity, number> = { critical: 0xd93025, warning: 0xf29900, info: 0x1a73e8 };

const builders: { [T in HttpChannelType]: Build<T> } = {
  /** Standard Webhooks: `{type, timestamp, data}`, signed; the id is the delivery's on every attempt. */
  webhook: (config, _rendered, event, { secret, now }) => {
    const body = JSON.stringify({
      type: event.type,
      timestamp: event.createdAt.toISOString(),
      data: event.data,
    });
    if (!secret) throw new Error('a webhook channel has a signing secret');
    return {
      url: config.url,
      headers: { ...JSON_HEADERS, ...signWebhook(secret, webhookIdOf(event.deliveryId), body, now) },
      body,
    };
  },
  /** Slack incoming webhook: `text` (mrkdwn) is the notification and its fallback. */
  slack: (config, r) => post(config.webhookUrl, { text: `*${r.title}*\n${r.body}` }),
  /** Discord webhook: one embed (title ≤ 256, description ≤ 4096), its title linking to the dashboard. */
  discord: (config, r, event) =>
    post(config.webhookUrl, {
      embeds: [
        {
          title: clip(r.title, 256),
          ...(linkOf(event) && { url: linkOf(event) }),
          description: clip(r.body, 4096),
          color: DISCORD_COLOUR[event.data.severity],
          timestamp: event.createdAt.toISOString(),
        },
      ],
    }),
  /** Teams (Workflows / incoming webhook): a message with one Adaptive Card, its action the dashboard link. */
  teams: (config, r, event) =>
    post(config.webhookUrl, {
      type: 'message',
      attachments: [
        {
          contentType: 'application/vnd.microsoft.card.adaptive',
          contentUrl: null,
          content: {
            $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
            type: 'AdaptiveCard',
            version: '1.4',
            body: [
              { type: 'TextBlock', text: r.title, weight: 'Bolder', size: 'Medium', wrap: true },
              { type: 'TextBlock', text: r.body, wrap: true },
            ],
            ...(linkOf(event) && {
              actions: [{ type: 'Action.OpenUrl', title: 'Open in Crucible', url: linkOf(event) }],
            }),
          },
        },
      ],
    }),
  /** Telegram Bot API `sendMessage` (plain text ≤ 4096). */
  telegram: (config, r, _event, { settings }) =>
    post(`${settings.telegramApiUrl}/bot${config.botToken}/sendMessage`, {
      chat_id: config.chatId,
      text: clip(`${r.title}\n\n${r.body}`, 4096),
      disable_web_page_preview: true,
    }),
  /** PagerDuty Events API v2: trigger / acknowledge / resolve one `dedup_key`. */
  pagerduty: (config, r, event, { settings }) => {
    const action = ACTIONS[event.type];
    const base = {
      routing_key: config.routingKey,
      event_action: PAGERDUTY_ACTIONS[action],
      dedup_key: dedupKeyOf(event),
    };
    if (action !== 'open') return post(settings.pagerdutyEventsUrl, base);
    return post(settings.pagerdutyEventsUrl, {
      ...base,
      payload: {
        summary: clip(r.title, 1024),
        source: 'crucible',
        severity: event.data.severity,
        timestamp: event.createdAt.toISOString(),
        custom_details: { message: r.body, event: event.type },
      },
      ...(linkOf(event) && {
        client: 'Crucible',
        client_url: linkOf(event),
        links: [{ href: linkOf(event), text: 'Open in Crucible' }],
      }),
    });
  },
  /** Opsgenie Alert API: create with `alias`, then acknowledge / close by alias. */
  opsgenie: (config, r, event, { settings }) => {
    const action = ACTIONS[event.type];
    const headers = { authorization: `GenieKey ${config.apiKey}` };
    const alias = dedupKeyOf(event);
    if (action !== 'open') {
      const verb = action === 'acknowledge' ? 'acknowledge' : 'close';
      return post(
        `${settings.opsgenieApiUrl}/v2/alerts/${encodeURIComponent(alias)}/${verb}?identifierType=alias`,
        { source: 'crucible', note: r.title },
        headers,
      );
    }
    return post(
      `${settings.opsgenieApiUrl}/v2/alerts`,
      {
        message: clip(r.title, 130),
        alias: clip(alias, 512),
        description: clip(r.body, 15_000),
        priority: OPSGENIE_PRIORITY[event.data.severity],
        source: 'crucible',
        tags: ['crucible', event.type],
        ...(linkOf(event) && { details: { url: linkOf(event)! } }),
      },
      headers,
    );
  },
};

/** The request that tells a channel of one event, as its provider documents it. */
export function providerRequest(
  type: HttpChannelType,
  config: unknown,
  rendered: RenderedNotification,
  event: OutgoingEvent,
  ctx: { settings: NotifySettings; secret: string | null; now?: Date },
): ProviderRequest {
  const build = builders[type] as Build<HttpChannelType>;
  return build(config as never, rendered, event, { ...ctx, now: ctx.now ?? new Date() });
}

/** The URL a channel of this type posts to, checked by the egress guard when the channel is made. */
export function providerUrl(
  type: HttpChannelType,
  config: Record<string, unknown>,
  settings: NotifySettings,
): string {
  switch (type) {
    case 'webhook':
      return config.url as string;
    case 'slack':
    case 'discord':
    case 'teams':
      return config.webhookUrl as string;
    case 'telegram':
      return settings.telegramApiUrl;
    case 'pagerduty':
      return settings.pagerdutyEventsUrl;
    case 'opsgenie':
      return settings.opsgenieApiUrl;
  }
}

/** Credentials that may appear in a provider's URL, never written to the trail. */
export function redact(text: string, config: Record<string, unknown>): string {
  const token = config.botToken;
  return typeof token === 'string' && token !== '' ? text.replaceAll(token, '…') : text;
}
