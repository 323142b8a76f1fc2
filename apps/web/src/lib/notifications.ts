import type { ChannelCreate, ChannelView } from '@crucible/contracts/api';
import type { ChannelType, DeliveryStatus } from '@crucible/contracts';

/**
 * What the add-channel form asks for per type (DESIGN.md, "Alerts and notifications"): each
 * field's key in `config`, its label, and whether it is a credential (typed into a password field).
 */
export interface ChannelField {
  key: string;
  label: string;
  secret?: boolean;
  hint?: string;
}

export const CHANNEL_FIELDS: Record<ChannelType, readonly ChannelField[]> = {
  'in-app': [],
  email: [{ key: 'to', label: 'To', hint: 'One address, or several separated by commas' }],
  webhook: [{ key: 'url', label: 'URL' }],
  slack: [{ key: 'webhookUrl', label: 'Incoming webhook URL', secret: true }],
  discord: [{ key: 'webhookUrl', label: 'Webhook URL', secret: true }],
  teams: [{ key: 'webhookUrl', label: 'Workflow webhook URL', secret: true }],
  telegram: [
    { key: 'botToken', label: 'Bot token', secret: true },
    { key: 'chatId', label: 'Chat id' },
  ],
  pagerduty: [{ key: 'routingKey', label: 'Routing key', secret: true }],
  opsgenie: [{ key: 'apiKey', label: 'API key', secret: true }],
};

export const CHANNEL_TYPE_LABELS: Record<ChannelType, string> = {
  'in-app': 'In-app (you)',
  email: 'Email',
  webhook: 'Webhook (signed)',
  slack: 'Slack',
  discord: 'Discord',
  teams: 'Microsoft Teams',
  telegram: 'Telegram',
  pagerduty: 'PagerDuty',
  opsgenie: 'Opsgenie',
};

/**
 * The create request for what the form holds: fields trimmed, an email's comma-separated list
 * split (one address stays a string), a numeric Telegram chat id sent as a number. A missing
 * field is named in the answer's `error` rather than sent for the API to refuse.
 */
export function channelRequest(
  name: string,
  type: ChannelType,
  values: Record<string, string>,
): { request: ChannelCreate } | { error: string } {
  const trimmed = name.trim();
  if (!trimmed) return { error: 'Name: required' };
  const config: Record<string, unknown> = {};
  for (const field of CHANNEL_FIELDS[type]) {
    const value = (values[field.key] ?? '').trim();
    if (!value) return { error: `${field.label}: required` };
    config[field.key] = value;
  }
  if (type === 'email') {
    const to = String(config.to)
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean);
    config.to = to.length === 1 ? to[0] : to;
  }
  if (type === 'telegram' && /^-?\d{1,15}$/.test(String(config.chatId)))
    config.chatId = Number(config.chatId);
  return { request: { name: trimmed, type, config } as ChannelCreate };
}

/** One line that says where a channel sends (credentials are already shortened by the API). */
export function channelTarget(channel: Pick<ChannelView, 'type' | 'config'>): string {
  const c = channel.config;
  switch (channel.type) {
    case 'in-app':
      return Array.isArray(c.userIds) ? `${c.userIds.length} member(s)` : 'its creator';
    case 'email':
      return Array.isArray(c.to) ? c.to.join(', ') : String(c.to ?? '');
    case 'webhook':
      return String(c.url ?? '');
    case 'telegram':
      return `chat ${String(c.chatId ?? '')}`;
    default:
      return Object.values(c).map(String).join(' ');
  }
}

/** A trail line's or a test's outcome in words: the status, the receiver's answer, the error. */
export function outcomeText(outcome: {
  status: DeliveryStatus;
  responseStatus: number | null;
  error: string | null;
  durationMs: number | null;
}): string {
  const parts: string[] = [outcome.status];
  if (outcome.responseStatus !== null) parts.push(`HTTP ${outcome.responseStatus}`);
  if (outcome.durationMs !== null) parts.push(`${outcome.durationMs} ms`);
  if (outcome.error) parts.push(outcome.error);
  return parts.join(' · ');
}

/** What the bell reads: "9+" past nine, nothing at zero (no badge). */
export function badgeText(unread: number): string | null {
  if (unread <= 0) return null;
  return unread > 9 ? '9+' : String(unread);
}

/**
 * Coalesces calls into one after `waitMs` of quiet, at most one in flight: the gateway replays a
 * user's channel from its start on every subscription, and a burst of replayed notifications
 * must cost one count request, not one each. Returns the trigger and a cancel.
 */
export function coalesce(run: () => Promise<void>, waitMs: number): { trigger(): void; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running = false;
  let again = false;
  const fire = async () => {
    timer = null;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await run();
    } finally {
      running = false;
      if (again) {
        again = false;
        timer = setTimeout(() => void fire(), waitMs);
      }
    }
  };
  return {
    trigger() {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => void fire(), waitMs);
    },
    cancel() {
      if (timer) clearTimeout(timer);
      timer = null;
      again = false;
    },
  };
}
