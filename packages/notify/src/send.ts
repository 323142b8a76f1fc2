import { Channels, Priority, channelName, createMessage, userNotification } from '@crucible/contracts';
import type { EventLog, NotificationData, NotificationEventType } from '@crucible/contracts';
import type { ChannelConfigs, ChannelTemplates } from '@crucible/contracts/api';
import type { ClaimedDelivery, NotificationsRepository } from '@crucible/db';
import { EgressError } from '@crucible/egress';
import type { Egress } from '@crucible/egress';
import { parseRetryAfter } from './backoff.js';
import { withLinks } from './links.js';
import { MailError } from './email.js';
import type { Mailer } from './email.js';
import { providerRequest, redact } from './providers.js';
import type { HttpChannelType } from './providers.js';
import type { NotifySettings } from './settings.js';
import { render, templateFor } from './templates.js';
import type { RenderedNotification } from './templates.js';

/** How one send went, before the dispatcher turns it into the delivery's next state. */
export type SendResult =
  | { kind: 'delivered'; responseStatus: number | null }
  /** Worth another attempt; `retryAfterMs` when the receiver said when. */
  | { kind: 'retry'; responseStatus: number | null; error: string; retryAfterMs?: number }
  /** Never worth another attempt (a refused address, a permanent SMTP refusal). */
  | { kind: 'failed'; responseStatus: number | null; error: string }
  /** 410 Gone: the receiver says the endpoint is no more; the channel is disabled. */
  | { kind: 'gone'; responseStatus: 410; error: string };

export interface SendDeps {
  egress: Egress;
  settings: NotifySettings;
  /** Email channels; absent without `SMTP_URL`. */
  mailer?: Mailer;
  notifications: NotificationsRepository;
  /** Where `user:notification` goes out. */
  eventLog?: Pick<EventLog, 'publish'>;
  /** Bound of one send. @defaultValue 15_000 */
  timeoutMs: number;
}

/** Renders a claimed delivery's templates. */
function renderFor(d: ClaimedDelivery, data: NotificationData) {
  const state = d.eventType as NotificationEventType;
  const template = templateFor(d.channelType, state, d.channelTemplates as ChannelTemplates);
  return render(template, data, { eventType: state, eventId: d.eventId, channelName: d.channelName });
}

/** Sends one claimed delivery to its channel, once; never throws. */
export async function sendDelivery(d: ClaimedDelivery, deps: SendDeps): Promise<SendResult> {
  try {
    const data = withLinks(d.eventData as NotificationData, {
      publicUrl: deps.settings.publicUrl,
      eventType: d.eventType as NotificationEventType,
      channelId: d.channelId,
    });
    const rendered = renderFor(d, data);
    switch (d.channelType) {
      case 'in-app':
        return await sendInApp(d, data, rendered, deps);
      case 'email':
        return await sendEmail(d.channelConfig as ChannelConfigs['email'], rendered, deps);
      default:
        return await sendHttp(d, data, d.channelType, rendered, deps);
    }
  } catch (err) {
    return { kind: 'retry', responseStatus: null, error: redact((err as Error).message, configOf(d)) };
  }
}

const configOf = (d: ClaimedDelivery) => (d.channelConfig ?? {}) as Record<string, unknown>;

async function sendHttp(
  d: ClaimedDelivery,
  data: NotificationData,
  type: HttpChannelType,
  rendered: RenderedNotification,
  deps: SendDeps,
): Promise<SendResult> {
  const event = {
    deliveryId: d.deliveryId,
    eventId: d.eventId,
    type: d.eventType as NotificationEventType,
    data,
    createdAt: new Date(d.eventCreatedAt),
  };
  const request = providerRequest(type, d.channelConfig, rendered, event, {
    settings: deps.settings,
    secret: d.channelSecret,
  });
  let res;
  try {
    res = await deps.egress.request(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      timeoutMs: deps.timeoutMs,
      // A receiver's redirect is not followed: the channel's URL is what was checked and agreed.
      maxRedirects: 0,
      maxBytes: 64 * 1024,
    });
  } catch (err) {
    const message = redact((err as Error).message, configOf(d));
    const refused =
      err instanceof EgressError && (err.code === 'TARGET_REFUSED' || err.code === 'INVALID_TARGET');
    return refused
      ? { kind: 'failed', responseStatus: null, error: message }
      : { kind: 'retry', responseStatus: null, error: message };
  }
  if (res.status >= 200 && res.status < 300) return { kind: 'delivered', responseStatus: res.status };
  const said = res.body.toString('utf8', 0, Math.min(res.body.length, 300)).trim();
  const error = redact(`the receiver answered ${res.status}${said ? `: ${said}` : ''}`, configOf(d));
  if (res.status === 410) return { kind: 'gone', responseStatus: 410, error };
  return {
    kind: 'retry',
    responseStatus: res.status,
    error,
    retryAfterMs: retryAfterOf(res.headers, res.body),
  };
}

/** `Retry-After`, or Telegram's `parameters.retry_after` (seconds) in a 429's body. */
function retryAfterOf(
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
): number | undefined {
  const header = parseRetryAfter(headers['retry-after']);
  if (header !== undefined) return header;
  try {
    const seconds = (JSON.parse(body.toString('utf8')) as { parameters?: { retry_after?: unknown } })
      .parameters?.retry_after;
    return typeof seconds === 'number' ? seconds * 1000 : undefined;
  } catch {
    return undefined;
  }
}

async function sendEmail(
  config: ChannelConfigs['email'],
  rendered: RenderedNotification,
  deps: SendDeps,
): Promise<SendResult> {
  if (!deps.mailer)
    return { kind: 'failed', responseStatus: null, error: 'no SMTP server is configured (SMTP_URL)' };
  try {
    await deps.mailer.send({
      to: config.to,
      subject: rendered.title,
      text: rendered.body,
      html: rendered.html,
    });
    return { kind: 'delivered', responseStatus: null };
  } catch (err) {
    const code = err instanceof MailError ? err.responseCode : undefined;
    const error = `SMTP: ${(err as Error).message}`;
    // 5xx is the server's final word on this message; anything else may pass later.
    return code !== undefined && code >= 500
      ? { kind: 'failed', responseStatus: code, error }
      : { kind: 'retry', responseStatus: code ?? null, error };
  }
}

/**
 * Makes each recipient's notification (once per delivery, so a retry after a crash makes none
 * twice) and pushes every one as `user:notification` at HIGH priority: the gateway keeps it until
 * the user acknowledges it. A retry pushes them again; clients know them by id.
 */
async function sendInApp(
  d: ClaimedDelivery,
  data: NotificationData,
  rendered: RenderedNotification,
  deps: SendDeps,
): Promise<SendResult> {
  const config = d.channelConfig as ChannelConfigs['in-app'];
  const userIds = config.userIds ?? (d.channelCreatedBy ? [d.channelCreatedBy] : []);
  const rows = await deps.notifications.makeForDelivery(userIds, {
    workspaceId: d.workspaceId,
    deliveryId: d.deliveryId,
    title: rendered.title,
    body: rendered.body,
    severity: data.severity,
    incidentId: data.incident?.id ?? null,
  });
  if (rows.length === 0)
    return { kind: 'failed', responseStatus: null, error: 'no recipient is a member of the workspace' };
  for (const row of rows) {
    await deps.eventLog?.publish(
      createMessage({
        event: 'user:notification',
        channel: channelName(Channels.USER_NOTIFICATIONS, { userId: row.user_id }),
        data: userNotification({
          id: row.id,
          workspaceId: row.workspace_id,
          title: row.title,
          body: row.body,
          severity: row.severity,
          incidentId: row.incident_id,
          createdAt: row.created_at,
          readAt: row.read_at,
        }),
        priority: Priority.HIGH,
        userId: row.user_id,
      }),
    );
  }
  return { kind: 'delivered', responseStatus: null };
}
