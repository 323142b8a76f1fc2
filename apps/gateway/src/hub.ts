import type { EventLog, Priority } from '@crucible/contracts';
import type { Broker } from './broker.js';

export interface Position {
  epoch: string;
  offset: number;
}

/** A published message as the hub fans it out: parsed once, forwarded as the original text. */
export interface HubMessage extends Position {
  raw: string;
  /** `raw` with `ackRequired: true`, made once for every recipient of a CRITICAL/HIGH message. */
  ackRaw?: string;
  /** `ackRaw` encoded (UTF-8), made with it: sent as it is to every reader not waiting on a batch. */
  ackBytes?: Buffer;
  id: string;
  userId: string | null;
  priority: Priority;
}

/** A local reader of channels: what the hub fans messages out to. */
export interface HubSubscriber {
  deliver(channel: string, message: HubMessage): void;
  /** Messages of the channel were lost for good: the reader must reload from `position` on. */
  reset(channel: string, position: Position): void;
}

export interface HubLogger {
  warn(obj: object, msg: string): void;
}

export interface HubOptions {
  broker: Pick<Broker, 'subscribe' | 'unsubscribe' | 'close'>;
  eventLog: Pick<EventLog, 'recover'>;
  log: HubLogger;
  /** How long a channel stays subscribed on the bus after its last local reader left. @defaultValue 2000 */
  unsubscribeDelayMs?: number;
  /** Pause before retrying a failed gap recovery. @defaultValue 1000 */
  recoveryRetryMs?: number;
  /** Told the outcome of every gap recovery. */
  onRecovery?(outcome: 'recovered' | 'reset' | 'failed'): void;
}

interface ChannelState {
  subscribers: Set<HubSubscriber>;
  /** The last position fanned out; null until the channel's first message or reader's recovery. */
  position: Position | null;
  /** While a gap is being filled from history, live messages wait here in arrival order. */
  pending: HubMessage[] | null;
  linger: NodeJS.Timeout | undefined;
  retry: NodeJS.Timeout | undefined;
}

/**
 * Channel → local subscribers. The first subscriber of a channel makes the broker subscribe, the
 * last one to leave makes it unsubscribe shortly after (Centrifuge's hub/node split). The hub also
 * watches each channel's offsets: a gap (a message lost on the bus, e.g. while its connection was
 * down) is filled from the channel's history before anything newer is fanned out.
 */
export class Hub {
  readonly #broker: HubOptions['broker'];
  readonly #eventLog: HubOptions['eventLog'];
  readonly #log: HubLogger;
  readonly #unsubscribeDelayMs: number;
  readonly #recoveryRetryMs: number;
  readonly #onRecovery: NonNullable<HubOptions['onRecovery']>;
  readonly #channels = new Map<string, ChannelState>();
  #closed = false;

  constructor(options: HubOptions) {
    this.#broker = options.broker;
    this.#eventLog = options.eventLog;
    this.#log = options.log;
    this.#unsubscribeDelayMs = options.unsubscribeDelayMs ?? 2_000;
    this.#recoveryRetryMs = options.recoveryRetryMs ?? 1_000;
    this.#onRecovery = options.onRecovery ?? (() => {});
  }

  /** Adds the subscriber and resolves once the broker receives the channel's messages. */
  async subscribe(channel: string, subscriber: HubSubscriber): Promise<void> {
    let state = this.#channels.get(channel);
    if (!state) {
      state = { subscribers: new Set(), position: null, pending: null, linger: undefined, retry: undefined };
      this.#channels.set(channel, state);
    }
    clearTimeout(state.linger);
    state.linger = undefined;
    state.subscribers.add(subscriber);
    try {
      await this.#broker.subscribe(channel);
    } catch (err) {
      this.unsubscribe(channel, subscriber);
      throw err;
    }
  }

  unsubscribe(channel: string, subscriber: HubSubscriber): void {
    const state = this.#channels.get(channel);
    if (!state?.subscribers.delete(subscriber) || state.subscribers.size > 0) return;
    const release = () => {
      if (this.#channels.get(channel) !== state || state.subscribers.size > 0) return;
      clearTimeout(state.retry);
      this.#channels.delete(channel);
      this.#broker.unsubscribe(channel).catch((err: unknown) => {
        this.#log.warn({ err, channel }, 'releasing a channel failed');
      });
    };
    // Lingering spares the bus a churn of unsubscribe/subscribe when readers come and go.
    if (this.#unsubscribeDelayMs > 0 && !this.#closed) {
      state.linger = setTimeout(release, this.#unsubscribeDelayMs);
    } else release();
  }

  /**
   * A subscriber's recovery read the channel's position: it becomes the baseline against which
   * gaps are detected, unless live messages already set a newer one.
   */
  observe(channel: string, position: Position): void {
    const state = this.#channels.get(channel);
    if (state && state.position === null && position.epoch !== '') state.position = { ...position };
  }

  /** Fans one published message out; it is parsed once here, not once per subscriber. */
  dispatch(channel: string, raw: string): void {
    const state = this.#channels.get(channel);
    if (!state) return;
    const message = parse(raw);
    if (!message) {
      this.#log.warn({ channel }, 'dropped a malformed channel message');
      return;
    }
    if (state.pending) {
      state.pending.push(message);
      return;
    }
    const last = state.position;
    if (last && message.epoch === last.epoch && message.offset <= last.offset) return;
    const gap =
      last !== null && (message.epoch === last.epoch ? message.offset > last.offset + 1 : message.offset > 1);
    if (gap) {
      state.pending = [message];
      void this.#fill(channel, state);
      return;
    }
    this.#fanOut(channel, state, message);
  }

  /** After the bus lost its connection: every channel checks its history for what it missed. */
  resync(): void {
    for (const [channel, state] of this.#channels) {
      if (state.pending || state.position === null) continue;
      state.pending = [];
      void this.#fill(channel, state);
    }
  }

  /** Local readers of each channel (a lingering channel counts 0). */
  occupancy(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const [channel, state] of this.#channels) counts.set(channel, state.subscribers.size);
    return counts;
  }

  /** Channels with at least one local subscriber. */
  get channelCount(): number {
    let n = 0;
    for (const state of this.#channels.values()) if (state.subscribers.size > 0) n++;
    return n;
  }

  /** Stops timers and releases every channel still held on the bus. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const state of this.#channels.values()) {
      clearTimeout(state.linger);
      clearTimeout(state.retry);
    }
    this.#channels.clear();
    await this.#broker.close();
  }

  #fanOut(channel: string, state: ChannelState, message: HubMessage): void {
    state.position = { epoch: message.epoch, offset: message.offset };
    for (const subscriber of state.subscribers) subscriber.deliver(channel, message);
  }

  /** Reads the channel's history after the last fanned-out position, then drains `pending`. */
  async #fill(channel: string, state: ChannelState): Promise<void> {
    const last = state.position!;
    const newest = state.pending!.at(-1);
    // A newer epoch means the history was replaced: everything of the new one is missing.
    const epoch = newest && newest.epoch !== last.epoch ? newest.epoch : last.epoch;
    const since = epoch === last.epoch ? last.offset : 0;
    let recovery;
    try {
      recovery = await this.#eventLog.recover(channel, since);
    } catch (err) {
      if (this.#channels.get(channel) !== state || this.#closed) return;
      this.#onRecovery('failed');
      this.#log.warn({ err, channel }, 'recovering a channel gap failed; retrying');
      state.retry = setTimeout(() => void this.#fill(channel, state), this.#recoveryRetryMs);
      return;
    }
    if (this.#channels.get(channel) !== state) return;
    const pending = state.pending ?? [];
    state.pending = null;
    if (recovery.epoch === epoch && recovery.complete) {
      this.#onRecovery('recovered');
      state.position = { epoch, offset: since };
      for (const raw of recovery.messages) {
        const message = parse(JSON.stringify(raw));
        if (message) this.#fanOut(channel, state, message);
      }
    } else {
      // Trimmed or replaced while the bus was away: the readers reload over HTTP from here on.
      this.#onRecovery('reset');
      state.position = { epoch: recovery.epoch ?? epoch, offset: recovery.offset };
      for (const subscriber of state.subscribers) subscriber.reset(channel, state.position);
    }
    for (const message of pending) {
      const position = state.position;
      if (message.epoch === position.epoch && message.offset <= position.offset) continue;
      this.#fanOut(channel, state, message);
    }
  }
}

function parse(raw: string): HubMessage | undefined {
  try {
    const m = JSON.parse(raw) as Record<string, unknown>;
    if (
      typeof m.offset !== 'number' ||
      typeof m.epoch !== 'string' ||
      typeof m.id !== 'string' ||
      typeof m.priority !== 'number'
    ) {
      return undefined;
    }
    const userId = typeof m.userId === 'string' ? m.userId : null;
    return { raw, id: m.id, offset: m.offset, epoch: m.epoch, userId, priority: m.priority as Priority };
  } catch {
    return undefined;
  }
}
