import { envInt, envParsed, envUrl } from '@crucible/runtime';

/**
 * What the notification variables mean, read alike by the api (a channel's test send) and the
 * worker (the dispatcher), alone or in all-in-one.
 */
export interface NotifySettings {
  /**
   * The dashboard's public base URL (`PUBLIC_URL`): notifications link to an incident's page under
   * it (`{{incident.url}}`, `{{url}}`). @defaultValue unset: no links (all-in-one: its own address)
   */
  publicUrl: string | undefined;
  /** How long a delivery is retried before it fails (`NOTIFY_RETRY_HOURS`). @defaultValue 24 */
  retryHours: number;
  /**
   * Bound of one send (`NOTIFY_SEND_TIMEOUT_MS`); a dispatcher's claim holds a delivery twice this
   * long, so one lost with its process is sent again that soon after. @defaultValue 15000
   */
  sendTimeoutMs: number;
  /** Telegram's Bot API (`TELEGRAM_API_URL`). @defaultValue https://api.telegram.org */
  telegramApiUrl: string;
  /** PagerDuty's Events API v2 endpoint (`PAGERDUTY_EVENTS_URL`). @defaultValue https://events.pagerduty.com/v2/enqueue */
  pagerdutyEventsUrl: string;
  /** Opsgenie's API (`OPSGENIE_API_URL`; EU accounts: https://api.eu.opsgenie.com). @defaultValue https://api.opsgenie.com */
  opsgenieApiUrl: string;
  /** The SMTP server email channels send through (`SMTP_URL`, smtp: or smtps:). @defaultValue unset: no email channels */
  smtpUrl: string | undefined;
  /** The sender of notification emails (`SMTP_FROM`). @defaultValue Crucible <crucible@localhost> */
  smtpFrom: string;
  /**
   * How long an incident's opening waits for others of its workspace, to go out with them as one
   * notification per channel (`ALERT_GROUP_WAIT_MS`; 0: at once). @defaultValue 30000
   */
  alertGroupWaitMs: number;
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');

/** Parses the notification variables; throws a ConfigError naming the bad one. */
export function loadNotifySettings(env: Record<string, string | undefined>): NotifySettings {
  const publicUrl = envUrl(env, 'PUBLIC_URL', ['https:', 'http:']);
  return {
    publicUrl: publicUrl && trimSlash(publicUrl),
    retryHours: envInt(env, 'NOTIFY_RETRY_HOURS', 24, { min: 1, max: 168 }),
    sendTimeoutMs: envInt(env, 'NOTIFY_SEND_TIMEOUT_MS', 15_000, { min: 1_000, max: 60_000 }),
    telegramApiUrl: trimSlash(
      envUrl(env, 'TELEGRAM_API_URL', ['https:', 'http:']) ?? 'https://api.telegram.org',
    ),
    pagerdutyEventsUrl:
      envUrl(env, 'PAGERDUTY_EVENTS_URL', ['https:', 'http:']) ?? 'https://events.pagerduty.com/v2/enqueue',
    opsgenieApiUrl: trimSlash(
      envUrl(env, 'OPSGENIE_API_URL', ['https:', 'http:']) ?? 'https://api.opsgenie.com',
    ),
    smtpUrl: envUrl(env, 'SMTP_URL', ['smtp:', 'smtps:']),
    smtpFrom: envParsed(env, 'SMTP_FROM', parseSender),
    alertGroupWaitMs: envInt(env, 'ALERT_GROUP_WAIT_MS', 30_000, { min: 0, max: 3_600_000 }),
  };
}

/** `SMTP_FROM`: an address, or a name and an address in angle brackets. */
function parseSender(raw: string | undefined): string {
  const value = raw?.trim() || 'Crucible <crucible@localhost>';
  if (!/^(?:[^<>]*<[^\s@<>]+@[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+)$/.test(value)) {
    throw new Error(
      `must be an address (alerts@example.com) or a name and one (Crucible <alerts@example.com>), got "${value}"`,
    );
  }
  return value;
}
