import type { DeliveryStatus, EventLog, NotificationEventType } from '@crucible/contracts';
import {
  NotificationChannelsRepository,
  NotificationDeliveriesRepository,
  NotificationsRepository,
} from '@crucible/db';
import type { AttemptOutcome, ClaimedDelivery, Db } from '@crucible/db';
import type { Egress } from '@crucible/egress';
import { BACKOFF_DEFAULTS, retryDelayMs } from './backoff.js';
import type { BackoffOptions } from './backoff.js';
import { Mailer } from './email.js';
import { sendDelivery } from './send.js';
import type { SendDeps, SendResult } from './send.js';
import type { NotifySettings } from './settings.js';

export interface DispatcherOptions {
  db: Db['kysely'];
  /** Every provider URL goes through it, as a test's target does. */
  egress: Egress;
  settings: NotifySettings;
  /** Where in-app notifications are pushed (`user:notification`). */
  eventLog?: Pick<EventLog, 'publish'>;
  log?: { warn(obj: object, msg: string): void };
  /** Bound of one send. @defaultValue settings.sendTimeoutMs (`NOTIFY_SEND_TIMEOUT_MS`) */
  sendTimeoutMs?: number;
  /**
   * How long a claim holds a delivery; one not settled by then was lost with its dispatcher. The
   * margin past the send's bound covers the claim's commit and the outcome's record.
   * @defaultValue 2 × sendTimeoutMs
   */
  leaseMs?: number;
  /** How often it looks for due deliveries when the last look found none. @defaultValue 1_000 */
  pollMs?: number;
  /** Deliveries claimed (and sent at once) per look, at most one per channel. @defaultValue 20 */
  batchSize?: number;
  /** @defaultValue BACKOFF_DEFAULTS */
  backoff?: BackoffOptions;
  /**
   * Sends only deliveries of these events: the api's dispatcher sends system alerts, which must not
   * wait for the workers they may be about. @defaultValue every type
   */
  eventTypes?: readonly NotificationEventType[];
}

/** How a channel disabled by its receiver's 410 Gone is said to be (`disabledReason`); the system alerts look for it. */
export const GONE_REASON_PREFIX = 'the receiver answered 410 Gone';

/** How one attempt ended: what `POST …/test` answers. */
export interface AttemptReport {
  status: DeliveryStatus | null;
  responseStatus: number | null;
  error: string | null;
  durationMs: number;
}

/**
 * Sends the outbox's deliveries (DESIGN.md, "Alerts and notifications"). Each look claims due
 * deliveries by lease in one statement (`FOR UPDATE SKIP LOCKED`: dispatchers in other workers take
 * others), sends them outside any transaction, and records each outcome fenced by its attempt
 * number: delivered, retried with backoff (or when `Retry-After` says) until the delivery's retry
 * time is up, or failed; a 410 disables the channel. A dispatcher killed mid-send records nothing;
 * its lease lapses and the next claim sends the delivery again, with the same `webhook-id`.
 */
export class Dispatcher {
  readonly #deliveries: NotificationDeliveriesRepository;
  readonly #channels: NotificationChannelsRepository;
  readonly #send: SendDeps;
  readonly #mailer: Mailer | undefined;
  readonly #opts: Required<Pick<DispatcherOptions, 'leaseMs' | 'pollMs' | 'batchSize' | 'backoff'>>;
  readonly #log: DispatcherOptions['log'];
  readonly #eventTypes: DispatcherOptions['eventTypes'];
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(options: DispatcherOptions) {
    const sendTimeoutMs = options.sendTimeoutMs ?? options.settings.sendTimeoutMs;
    this.#deliveries = new NotificationDeliveriesRepository(options.db);
    this.#channels = new NotificationChannelsRepository(options.db);
    this.#mailer = options.settings.smtpUrl
      ? new Mailer(options.settings.smtpUrl, options.settings.smtpFrom)
      : undefined;
    this.#send = {
      egress: options.egress,
      settings: options.settings,
      mailer: this.#mailer,
      notifications: new NotificationsRepository(options.db),
      eventLog: options.eventLog,
      timeoutMs: sendTimeoutMs,
    };
    this.#opts = {
      leaseMs: options.leaseMs ?? 2 * sendTimeoutMs,
      pollMs: options.pollMs ?? 1_000,
      batchSize: options.batchSize ?? 20,
      backoff: options.backoff ?? BACKOFF_DEFAULTS,
    };
    this.#log = options.log;
    this.#eventTypes = options.eventTypes;
  }

  /** Starts looking for due deliveries every `pollMs` (at once again after a look that found some). */
  start(): this {
    this.#schedule(0);
    return this;
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#running = this.runOnce()
        // A channel's next delivery is claimable once the one before it is settled: look again at once.
        .then((sent) => this.#schedule(sent > 0 ? 0 : this.#opts.pollMs))
        .catch((err: unknown) => {
          this.#log?.warn({ err }, 'notification dispatch failed; trying again');
          this.#schedule(this.#opts.pollMs);
        });
    }, delayMs);
  }

  /** One look: claims what is due and sends it; returns how many were claimed. */
  async runOnce(): Promise<number> {
    const claimed = await this.#deliveries.claim({
      limit: this.#opts.batchSize,
      leaseMs: this.#opts.leaseMs,
      eventTypes: this.#eventTypes,
    });
    await Promise.all(claimed.map((d) => this.#attempt(d)));
    return claimed.length;
  }

  /** Sends one delivery now if it is due and nobody holds it (`POST …/test`); undefined otherwise. */
  async deliverNow(deliveryId: string): Promise<AttemptReport | undefined> {
    const [claimed] = await this.#deliveries.claim({ limit: 1, leaseMs: this.#opts.leaseMs, deliveryId });
    return claimed && this.#attempt(claimed);
  }

  async #attempt(d: ClaimedDelivery): Promise<AttemptReport> {
    const started = performance.now();
    const result: SendResult = d.channelEnabled
      ? await sendDelivery(d, this.#send)
      : { kind: 'failed', responseStatus: null, error: 'the channel is disabled' };
    const durationMs = Math.round(performance.now() - started);
    if (result.kind === 'gone') {
      await this.#channels.disable(d.channelId, `${GONE_REASON_PREFIX} on ${new Date().toISOString()}`);
    }
    const outcome: AttemptOutcome =
      result.kind === 'delivered'
        ? { kind: 'delivered', responseStatus: result.responseStatus, durationMs }
        : result.kind === 'retry'
          ? {
              kind: 'retry',
              delayMs: retryDelayMs(d.attempt, result.retryAfterMs, this.#opts.backoff),
              responseStatus: result.responseStatus,
              durationMs,
              error: result.error,
            }
          : { kind: 'failed', responseStatus: result.responseStatus, durationMs, error: result.error };
    const status = await this.#deliveries.record(d.deliveryId, d.attempt, outcome);
    const error = result.kind === 'delivered' ? null : result.error;
    return { status, responseStatus: result.responseStatus, error, durationMs };
  }

  /** Stops looking; waits for the look in progress (its sends are bounded by the send timeout). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#running?.catch(() => {});
    this.#mailer?.close();
  }
}
