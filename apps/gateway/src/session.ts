import { Events, createMessage } from '@crucible/shared';
import type { Envelope, EventLog } from '@crucible/shared';
import type { FastifyBaseLogger } from 'fastify';
// Types only: `ws` reaches this app through @fastify/websocket, not as a runtime dependency of its own.
import type { RawData, WebSocket } from 'ws';
import type { ChannelAuthorizer, Reader } from './channel-access.js';
import type { GatewayLimits } from './env.js';
import type { Hub, HubSubscriber } from './hub.js';

export type ErrorCode = 'FORBIDDEN' | 'BAD_REQUEST' | 'LIMIT' | 'NOT_FOUND' | 'UNAVAILABLE';

export interface Since {
  epoch?: string;
  offset: number;
}

export type ClientFrame =
  | { type: 'subscribe'; channel: string; since?: Since }
  | { type: 'unsubscribe'; channel: string }
  | { type: 'ping' }
  | { type: 'ack'; id: string };

/** Validates one client text frame; a string result is the reason it was refused. */
export function parseClientFrame(text: string): ClientFrame | string {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    return 'frame is not valid JSON';
  }
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame))
    return 'frame must be a JSON object';
  const f = frame as Record<string, unknown>;
  switch (f.type) {
    case 'subscribe': {
      if (typeof f.channel !== 'string') return 'subscribe needs a channel';
      if (f.since === undefined) return { type: 'subscribe', channel: f.channel };
      const since = f.since as Record<string, unknown> | null;
      if (typeof since !== 'object' || since === null) return 'since must be an object';
      if (typeof since.offset !== 'number' || !Number.isSafeInteger(since.offset) || since.offset < 0) {
        return 'since.offset must be a non-negative integer';
      }
      if (since.epoch !== undefined && typeof since.epoch !== 'string') return 'since.epoch must be a string';
      return {
        type: 'subscribe',
        channel: f.channel,
        since:
          since.epoch === undefined ? { offset: since.offset } : { epoch: since.epoch, offset: since.offset },
      };
    }
    case 'unsubscribe':
      return typeof f.channel === 'string'
        ? { type: 'unsubscribe', channel: f.channel }
        : 'unsubscribe needs a channel';
    case 'ping':
      return { type: 'ping' };
    case 'ack':
      return typeof f.id === 'string' ? { type: 'ack', id: f.id } : 'ack needs an id';
    default:
      return 'unknown frame type';
  }
}

interface Position {
  offset: number;
  epoch: string;
}

/** One channel of one session. */
interface Subscription {
  // Live messages that arrive while history is being replayed wait here, so none is lost or reordered.
  pending: (Position & { raw: string })[] | null;
  /** The last position sent to the client: anything at or before it is a duplicate. */
  position: Position;
}

export interface SessionOptions {
  id: string;
  user: Reader;
  socket: WebSocket;
  hub: Hub;
  eventLog: Pick<EventLog, 'recover'>;
  authorize: ChannelAuthorizer;
  limits: GatewayLimits;
  log: FastifyBaseLogger;
  /** Called once, when the socket has closed and every subscription is released. */
  onClose(session: Session): void;
}

/** One socket: its user, its subscriptions, the frames it sends and receives, its heartbeat. */
export class Session implements HubSubscriber {
  readonly id: string;
  readonly user: Reader;
  readonly #socket: WebSocket;
  readonly #options: SessionOptions;
  readonly #log: FastifyBaseLogger;
  readonly #subscriptions = new Map<string, Subscription>();
  #heartbeat: NodeJS.Timeout | undefined;
  #pongDeadline: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: SessionOptions) {
    this.id = options.id;
    this.user = options.user;
    this.#socket = options.socket;
    this.#options = options;
    this.#log = options.log;
  }

  /** Must run synchronously in the route handler, so no early frame finds no listener. */
  start(): void {
    const socket = this.#socket;
    socket.on('message', (data, isBinary) => this.#onFrame(data, isBinary));
    socket.on('pong', () => {
      clearTimeout(this.#pongDeadline);
      this.#pongDeadline = undefined;
    });
    socket.on('close', () => this.#dispose());
    this.#heartbeat = setInterval(() => this.#ping(), this.#options.limits.heartbeatMs);
    const hello = createMessage({
      event: Events.CONNECTION_ESTABLISHED,
      channel: '',
      data: { connectionId: this.id, userId: this.user.id, heartbeatMs: this.#options.limits.heartbeatMs },
      userId: this.user.id,
    });
    // Not a channel message: it has no place in any history.
    this.#send({ ...hello, offset: 0, epoch: '' } satisfies Envelope);
  }

  deliver(channel: string, raw: string, position: Position): void {
    const subscription = this.#subscriptions.get(channel);
    if (!subscription) return;
    if (subscription.pending) subscription.pending.push({ raw, ...position });
    else this.#forward(subscription, raw, position);
  }

  close(code: number, reason: string): void {
    this.#socket.close(code, reason);
  }

  /** Ends the connection at once (no close handshake). */
  terminate(): void {
    this.#socket.terminate();
  }

  get channelCount(): number {
    return this.#subscriptions.size;
  }

  #onFrame(data: RawData, isBinary: boolean): void {
    if (isBinary) return this.#error('BAD_REQUEST', 'frames must be JSON text');
    const frame = parseClientFrame(rawToString(data));
    if (typeof frame === 'string') return this.#error('BAD_REQUEST', frame);
    switch (frame.type) {
      case 'subscribe':
        void this.#subscribe(frame.channel, frame.since);
        return;
      case 'unsubscribe':
        return this.#unsubscribe(frame.channel);
      case 'ping':
        return this.#send({ type: 'pong' });
      case 'ack':
        // Accepted so clients can already send acks; delivery tracking comes with batching.
        return;
    }
  }

  async #subscribe(channel: string, since: Since | undefined): Promise<void> {
    if (this.#subscriptions.has(channel)) return this.#error('BAD_REQUEST', 'already subscribed', channel);
    if (this.#subscriptions.size >= this.#options.limits.maxChannelsPerConnection) {
      return this.#error(
        'LIMIT',
        `at most ${this.#options.limits.maxChannelsPerConnection} channels`,
        channel,
      );
    }
    // Reserved before any await, so concurrent subscribes can neither pass the limit nor duplicate.
    const subscription: Subscription = { pending: [], position: { offset: 0, epoch: '' } };
    this.#subscriptions.set(channel, subscription);
    const current = () => this.#subscriptions.get(channel) === subscription;
    try {
      const decision = await this.#options.authorize(this.user, channel);
      if (!current()) return;
      if (!decision.allowed) {
        this.#subscriptions.delete(channel);
        return this.#error(decision.code, decision.detail, channel);
      }
      // Subscribed before reading history: whatever is published from now on arrives live, and
      // whatever was published before is in the history, so there is no gap between the two.
      await this.#options.hub.subscribe(channel, this);
      if (!current()) return;
      const recovery = await this.#options.eventLog.recover(
        channel,
        since ? since.offset : Number.MAX_SAFE_INTEGER,
      );
      if (!current()) return;
      const epoch = recovery.epoch ?? '';
      // Without `since` nothing was asked for, so nothing is missing: recovered is true.
      let recovered = true;
      let replay: Envelope[] = [];
      if (since) {
        // An empty or absent epoch means "the current one" (a client that first saw the channel empty).
        const sameEpoch = !since.epoch || recovery.epoch === null || since.epoch === recovery.epoch;
        recovered = sameEpoch && recovery.complete && since.offset <= recovery.offset;
        if (recovered) replay = recovery.messages;
      }
      subscription.position = { epoch, offset: recovered && since ? since.offset : recovery.offset };
      this.#send({ type: 'subscribed', channel, epoch, offset: recovery.offset, recovered });
      for (const message of replay) this.#forward(subscription, JSON.stringify(message), message);
      const pending = subscription.pending ?? [];
      subscription.pending = null;
      for (const message of pending) this.#forward(subscription, message.raw, message);
    } catch (err) {
      if (!current()) return;
      this.#subscriptions.delete(channel);
      this.#release(channel);
      this.#log.error({ err, channel }, 'subscribe failed');
      this.#error('UNAVAILABLE', 'the channel cannot be read right now; retry later', channel);
    }
  }

  #unsubscribe(channel: string): void {
    if (!this.#subscriptions.delete(channel)) return this.#error('NOT_FOUND', 'not subscribed', channel);
    this.#release(channel);
    this.#send({ type: 'unsubscribed', channel });
  }

  #forward(subscription: Subscription, raw: string, position: Position): void {
    const last = subscription.position;
    if (position.epoch === last.epoch && position.offset <= last.offset) return;
    subscription.position = { epoch: position.epoch, offset: position.offset };
    this.#send(raw);
  }

  #release(channel: string): void {
    this.#options.hub.unsubscribe(channel, this).catch((err: unknown) => {
      this.#log.warn({ err, channel }, 'releasing a channel failed');
    });
  }

  #error(code: ErrorCode, detail: string, channel?: string): void {
    this.#send(
      channel === undefined ? { type: 'error', code, detail } : { type: 'error', code, channel, detail },
    );
  }

  #send(frame: string | object): void {
    const socket = this.#socket;
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > this.#options.limits.maxBufferedBytes) {
      // A client that cannot keep up would otherwise grow this process's memory without bound.
      this.#log.warn({ connectionId: this.id, buffered: socket.bufferedAmount }, 'dropping slow consumer');
      socket.terminate();
      return;
    }
    socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  #ping(): void {
    if (this.#pongDeadline) return;
    this.#pongDeadline = setTimeout(() => {
      this.#log.info({ connectionId: this.id }, 'heartbeat timed out');
      this.#socket.terminate();
    }, this.#options.limits.heartbeatTimeoutMs);
    this.#socket.ping();
  }

  #dispose(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#pongDeadline);
    for (const channel of this.#subscriptions.keys()) this.#release(channel);
    this.#subscriptions.clear();
    this.#options.onClose(this);
  }
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
