import { ACK_IDS_MAX, Events, Priority, createMessage, sharedLiveData } from '@crucible/contracts';
import type { ClientFrame, Envelope, EventLog, Since } from '@crucible/contracts';
import { JSON_MAX_DEPTH, exceedsJsonDepth } from '@crucible/runtime';
import type { FastifyBaseLogger } from 'fastify';
// Types only: `ws` reaches this app through @fastify/websocket, not as a runtime dependency of its own.
import type { RawData, WebSocket } from 'ws';
import type { CoalescingAckStore } from './acks.js';
import type { ChannelAuthorizer, MessageFilter, Reader, SharedSource } from './channel-access.js';
import type { GatewayLimits } from './env.js';
import type { Hub, HubMessage, HubSubscriber, Position } from './hub.js';
import type { GatewayMetrics } from './metrics.js';

export type ErrorCode = 'FORBIDDEN' | 'BAD_REQUEST' | 'LIMIT' | 'NOT_FOUND' | 'UNAVAILABLE';

/** A client frame as the session acts on it: an `ack` of one id or of several is a list of ids. */
export type ParsedFrame = Exclude<ClientFrame, { type: 'ack' }> | { type: 'ack'; ids: string[] };

/** The ids of an `ack` frame (`id`, or `ids`: 1 to ACK_IDS_MAX strings); a string is the refusal. */
function ackIds(f: Record<string, unknown>): string[] | string {
  if (typeof f.id === 'string') return [f.id];
  const { ids } = f;
  if (!Array.isArray(ids)) return 'ack needs an id or ids';
  if (ids.length === 0 || ids.length > ACK_IDS_MAX) return `ack ids must hold 1 to ${ACK_IDS_MAX} ids`;
  if (!ids.every((id) => typeof id === 'string')) return 'ack ids must be strings';
  return ids as string[];
}

/** Validates one client text frame; a string result is the reason it was refused. */
export function parseClientFrame(text: string): ParsedFrame | string {
  // Checked before parsing, as the API checks its bodies: no frame is walked thousands deep.
  if (exceedsJsonDepth(text)) return `frame nests arrays and objects deeper than ${JSON_MAX_DEPTH} levels`;
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
    case 'ack': {
      const ids = ackIds(f);
      return typeof ids === 'string' ? ids : { type: 'ack', ids };
    }
    default:
      return 'unknown frame type';
  }
}

/** One channel of one session. */
interface Subscription {
  // Live messages that arrive while history is being replayed wait here, so none is lost or reordered.
  pending: HubMessage[] | null;
  /** The last position sent to (or filtered out for) the client: anything at or before it is a duplicate. */
  position: Position;
  filter: MessageFilter | undefined;
  /** The bus lost messages while this subscription was still replaying: tell the client once it is done. */
  lostDuringReplay: boolean;
  /** The workspace whose membership lets the reader have the channel (re-checked while subscribed). */
  workspaceId?: string;
  /** A share link's channel: the bus channel it reads, redacted, and the share it is by. */
  shared?: SharedSource;
  /** Ends a share's channel when the share expires. */
  expiry?: NodeJS.Timeout;
}

/** What every session of one gateway shares. */
export interface SessionContext {
  hub: Hub;
  eventLog: Pick<EventLog, 'recover'>;
  authorize: ChannelAuthorizer;
  acks: CoalescingAckStore;
  limits: GatewayLimits;
  metrics: GatewayMetrics;
  log: FastifyBaseLogger;
  /** Called once per session, when its socket has closed and every subscription is released. */
  onClose(session: Session): void;
}

export interface SessionOptions {
  id: string;
  user: Reader;
  /** The API key the socket authenticated with, if any: revoking it closes the socket. */
  apiKeyId: string | undefined;
  /** The sign-in session the socket authenticated with, if any: signing it out closes the socket. */
  sessionId: string | undefined;
  socket: WebSocket;
  context: SessionContext;
  /** Which of the gateway's heartbeat groups pings this session. */
  heartbeatSlot: number;
}

/** Close codes the gateway uses beyond the standard ones. */
export const CloseCodes = {
  /** The API key or sign-in session (or a ticket's) the socket authenticated with was revoked. */
  REVOKED: 4001,
  /** The client did not read fast enough: its send queue passed `maxBufferedBytes`. */
  SLOW: 4008,
} as const;

const INVALID_FRAME_WINDOW_MS = 60_000;

/** What a share link's channel passes on of the test's progress channel. */
const SHARED_EVENTS: ReadonlySet<string> = new Set<string>([
  Events.TEST_STARTED,
  Events.TEST_PROGRESS,
  Events.TEST_COMPLETED,
  Events.TEST_FAILED,
  Events.TEST_CANCELLED,
]);

// Idle sockets are what a gateway holds most of, so a socket's listeners are these few functions,
// shared by every socket (the emitter is `this`), not closures made per socket.
const sessions = new WeakMap<WebSocket, Session>();
function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  sessions.get(this)?.onFrame(data, isBinary);
}
function onPong(this: WebSocket): void {
  sessions.get(this)?.onPong();
}
function onSocketClose(this: WebSocket): void {
  sessions.get(this)?.dispose();
  sessions.delete(this);
}
function onSocketError(this: WebSocket, err: Error): void {
  sessions.get(this)?.onSocketError(err);
  this.terminate();
}
/** Sent as text frames, though given as bytes (a message is encoded once for all its readers). */
const TEXT = { binary: false } as const;

/**
 * One socket: its user, its subscriptions, the frames it sends and receives, its heartbeat.
 * Outgoing channel messages are batched (at most `batchMaxMessages` per frame, or what arrived in
 * `batchDelayMs`); CRITICAL and HIGH go at once, and every control frame first flushes the batch,
 * so the client sees everything in the order the server decided it.
 */
export class Session implements HubSubscriber {
  readonly id: string;
  readonly user: Reader;
  readonly apiKeyId: string | undefined;
  readonly sessionId: string | undefined;
  readonly heartbeatSlot: number;
  readonly #socket: WebSocket;
  readonly #context: SessionContext;
  // Both made on first use: an idle socket subscribes to nothing and is sent no channel message.
  #subscriptions: Map<string, Subscription> | undefined;
  /** Share links' channels by the bus channel they read (made on the first). */
  #aliases: Map<string, string> | undefined;
  #batch: string[] | undefined;
  #batchBytes = 0;
  #batchTimer: NodeJS.Timeout | undefined;
  #pongDeadline: NodeJS.Timeout | undefined;
  /** Bytes handed to the socket so far. */
  #sentBytes = 0;
  /** Of those, the bytes the client has proved it read: it answered a ping sent after them. */
  #readBytes = 0;
  /** `#sentBytes` when the ping that is not answered yet was sent. */
  #pingedAt: number | undefined;
  #killTimer: NodeJS.Timeout | undefined;
  // Made on the first invalid frame: most sockets never send one.
  #invalidFrames: number[] | undefined;
  /** Closing (slow, abusive, revoked): nothing more is sent. */
  #closing = false;
  #closed = false;

  constructor(options: SessionOptions) {
    this.id = options.id;
    this.user = options.user;
    this.apiKeyId = options.apiKeyId;
    this.sessionId = options.sessionId;
    this.heartbeatSlot = options.heartbeatSlot;
    this.#socket = options.socket;
    this.#context = options.context;
  }

  /**
   * Must run synchronously in the route handler, so no early frame finds no listener. Takes over
   * the socket's errors: one is logged and ends the socket (its close ends the session).
   */
  start(): void {
    const socket = this.#socket;
    sessions.set(socket, this);
    socket.removeAllListeners('error');
    socket.on('error', onSocketError);
    socket.on('message', onMessage);
    socket.on('pong', onPong);
    socket.on('close', onSocketClose);
    const hello = createMessage({
      event: Events.CONNECTION_ESTABLISHED,
      channel: '',
      data: { connectionId: this.id, userId: this.user.id, heartbeatMs: this.#context.limits.heartbeatMs },
      userId: this.user.id,
    });
    // Not a channel message: it has no place in any history.
    this.#sendControl({ ...hello, offset: 0, epoch: '' } satisfies Envelope);
  }

  deliver(source: string, message: HubMessage): void {
    const channel = this.#aliases?.get(source) ?? source;
    const subscription = this.#subscriptions?.get(channel);
    if (!subscription) return;
    if (subscription.pending) subscription.pending.push(message);
    else this.#forward(channel, subscription, message);
  }

  reset(source: string, position: Position): void {
    const channel = this.#aliases?.get(source) ?? source;
    const subscription = this.#subscriptions?.get(channel);
    if (!subscription) return;
    if (subscription.pending) {
      subscription.lostDuringReplay = true;
      return;
    }
    subscription.position = { ...position };
    this.#sendControl({ type: 'subscribed', channel, ...position, recovered: false });
  }

  /** Closes with a handshake, and drops the connection if the peer does not finish it soon. */
  close(code: number, reason: string): void {
    this.#closing = true;
    this.#discardBatch();
    this.#socket.close(code, reason);
    this.#killTimer ??= setTimeout(() => this.#socket.terminate(), 2_000);
  }

  /** The workspaces whose membership the session's channels are read by. */
  workspaces(): Set<string> {
    const ids = new Set<string>();
    for (const subscription of this.#subscriptions?.values() ?? []) {
      if (subscription.workspaceId) ids.add(subscription.workspaceId);
    }
    return ids;
  }

  /**
   * The reader's membership of `workspaceId` ended: its channels go, each with a `FORBIDDEN` error
   * frame naming it; the socket and its other channels stay.
   */
  dropWorkspace(workspaceId: string): void {
    for (const [channel, subscription] of this.#subscriptions ?? []) {
      if (subscription.workspaceId !== workspaceId) continue;
      this.#release(channel, subscription);
      this.#error('FORBIDDEN', 'no longer a member of this workspace', channel);
    }
  }

  /**
   * The share with this hash was revoked (or expired): its channels go with a `FORBIDDEN` error
   * frame; a socket opened with that share's link is closed (there is nothing else it may read).
   */
  dropShare(hash: string, detail = 'this share link was revoked'): void {
    for (const [channel, subscription] of this.#subscriptions ?? []) {
      if (subscription.shared?.hash !== hash) continue;
      this.#release(channel, subscription);
      this.#error('FORBIDDEN', detail, channel);
    }
    if (this.user.share?.hash === hash) this.close(CloseCodes.REVOKED, 'share revoked');
  }

  /** Forgets one subscription and lets go of the bus channel it reads. */
  #release(channel: string, subscription: Subscription): void {
    this.#subscriptions?.delete(channel);
    clearTimeout(subscription.expiry);
    const source = subscription.shared?.channel ?? channel;
    if (subscription.shared) this.#aliases?.delete(source);
    this.#context.hub.unsubscribe(source, this);
  }

  get channelCount(): number {
    return this.#subscriptions?.size ?? 0;
  }

  /** @internal A frame from the client (the socket's shared `message` listener). */
  onFrame(data: RawData, isBinary: boolean): void {
    if (this.#closing) return;
    if (isBinary) return this.#invalid('frames must be JSON text');
    const frame = parseClientFrame(rawToString(data));
    if (typeof frame === 'string') return this.#invalid(frame);
    switch (frame.type) {
      case 'subscribe':
        void this.#subscribe(frame.channel, frame.since);
        return;
      case 'unsubscribe':
        return this.#unsubscribe(frame.channel);
      case 'ping':
        return this.#sendControl({ type: 'pong' });
      case 'ack':
        this.#context.metrics.acks.inc(frame.ids.length);
        for (const id of frame.ids) this.#context.acks.recordAck(this.user.id, id);
        return;
    }
  }

  /** An error frame, and past `maxInvalidFrames` in a minute, close 1008 (policy violation). */
  #invalid(detail: string): void {
    const now = Date.now();
    this.#invalidFrames = (this.#invalidFrames ?? []).filter((t) => now - t < INVALID_FRAME_WINDOW_MS);
    this.#invalidFrames.push(now);
    if (this.#invalidFrames.length > this.#context.limits.maxInvalidFrames) {
      this.#context.metrics.abuseDisconnects.inc({ reason: 'invalid_frames' });
      this.#context.log.info(
        { connectionId: this.id },
        'closing a connection that keeps sending invalid frames',
      );
      return this.close(1008, 'too many invalid frames');
    }
    this.#error('BAD_REQUEST', detail);
  }

  async #subscribe(channel: string, since: Since | undefined): Promise<void> {
    const subscriptions = (this.#subscriptions ??= new Map());
    const { hub, eventLog, authorize, acks, metrics, limits, log } = this.#context;
    if (subscriptions.has(channel)) return this.#error('BAD_REQUEST', 'already subscribed', channel);
    if (subscriptions.size >= limits.maxChannelsPerConnection) {
      return this.#error('LIMIT', `at most ${limits.maxChannelsPerConnection} channels`, channel);
    }
    // Reserved before any await, so concurrent subscribes can neither pass the limit nor duplicate.
    const subscription: Subscription = {
      pending: [],
      position: { offset: 0, epoch: '' },
      filter: undefined,
      lostDuringReplay: false,
    };
    subscriptions.set(channel, subscription);
    const current = () => subscriptions.get(channel) === subscription && !this.#closed;
    try {
      const decision = await authorize(this.user, channel);
      if (!current()) return;
      if (!decision.allowed) {
        subscriptions.delete(channel);
        return this.#error(decision.code, decision.detail, channel);
      }
      subscription.filter = decision.filter;
      subscription.workspaceId = decision.workspaceId;
      const source = decision.shared?.channel ?? channel;
      if (decision.shared && !this.#alias(channel, subscription, decision.shared)) return;
      // Subscribed before reading history: whatever is published from now on arrives live, and
      // whatever was published before is in the history, so there is no gap between the two.
      await hub.subscribe(source, this);
      if (!current()) return;
      const recovery = await eventLog.recover(source, since ? since.offset : Number.MAX_SAFE_INTEGER);
      if (!current()) return;
      const epoch = recovery.epoch ?? '';
      hub.observe(source, { epoch, offset: recovery.offset });
      // Without `since` nothing was asked for, so nothing is missing: recovered is true.
      let recovered = true;
      let replay: Envelope[] = [];
      let redeliver: Envelope[] = [];
      if (since) {
        // An empty or absent epoch means "the current one" (a client that first saw the channel empty).
        const sameEpoch = !since.epoch || recovery.epoch === null || since.epoch === recovery.epoch;
        recovered = sameEpoch && recovery.complete && since.offset <= recovery.offset;
        metrics.recoveries.inc({ kind: 'resume', outcome: recovered ? 'recovered' : 'reset' });
        if (recovered) {
          replay = recovery.messages;
          // What this user was sent before and never acknowledged comes first, marked as redelivered.
          if (recovery.epoch !== null && since.offset > 0 && !subscription.shared) {
            const unacked = await acks.unacked(this.user.id, channel, recovery.epoch, since.offset);
            if (unacked.length > 0) {
              const ids = new Set(unacked.map((m) => m.id));
              const older = await eventLog.recover(channel, unacked[0]!.offset - 1);
              if (!current()) return;
              redeliver = older.messages.filter((m) => ids.has(m.id) && m.offset <= since.offset);
            }
          }
        }
      }
      subscription.position = { epoch, offset: recovered && since ? since.offset : recovery.offset };
      this.#sendControl({ type: 'subscribed', channel, epoch, offset: recovery.offset, recovered });
      for (const message of redeliver) {
        if (subscription.filter && !subscription.filter(this.user, message)) continue;
        metrics.redelivered.inc();
        this.#enqueue(withFields(JSON.stringify(message), ',"ackRequired":true,"redelivered":true'), true);
      }
      for (const message of replay) {
        this.#forward(channel, subscription, {
          raw: JSON.stringify(message),
          id: message.id,
          epoch: message.epoch,
          offset: message.offset,
          userId: message.userId,
          priority: message.priority,
        });
      }
      // Forwarding may have closed the socket (slow consumer): then there is nothing left to do.
      if (!current()) return;
      const pending = subscription.pending ?? [];
      subscription.pending = null;
      for (const message of pending) this.#forward(channel, subscription, message);
      if (subscription.lostDuringReplay) {
        subscription.lostDuringReplay = false;
        this.reset(channel, subscription.position);
      }
    } catch (err) {
      if (!current()) return;
      this.#release(channel, subscription);
      log.error({ err, channel }, 'subscribe failed');
      this.#error('UNAVAILABLE', 'the channel cannot be read right now; retry later', channel);
    }
  }

  #unsubscribe(channel: string): void {
    const subscription = this.#subscriptions?.get(channel);
    if (!subscription) return this.#error('NOT_FOUND', 'not subscribed', channel);
    this.#release(channel, subscription);
    this.#sendControl({ type: 'unsubscribed', channel });
  }

  /**
   * Makes a share link's channel read the test's progress channel. One socket reads a bus channel
   * once: a second share of the same test, or the test's own channel beside its share, is refused.
   */
  #alias(channel: string, subscription: Subscription, shared: SharedSource): boolean {
    const aliases = (this.#aliases ??= new Map());
    if (aliases.has(shared.channel) || this.#subscriptions?.has(shared.channel)) {
      this.#subscriptions?.delete(channel);
      this.#error('BAD_REQUEST', 'this socket already reads this test', channel);
      return false;
    }
    aliases.set(shared.channel, channel);
    subscription.shared = shared;
    if (shared.expiresAt !== null) {
      // A timer's longest wait is about 24.8 days; a later expiry is checked when it fires.
      const wait = Math.min(Math.max(0, shared.expiresAt - Date.now()), 2 ** 31 - 1);
      subscription.expiry = setTimeout(() => this.dropShare(shared.hash, 'this share link expired'), wait);
      subscription.expiry.unref();
    }
    return true;
  }

  /** A message of the test's channel as a share link's channel passes it on: redacted, renamed. */
  #forwardShared(channel: string, message: HubMessage): void {
    const envelope = JSON.parse(message.raw) as Envelope;
    if (!SHARED_EVENTS.has(envelope.event)) return;
    const shared: Envelope = {
      id: envelope.id,
      event: envelope.event,
      channel,
      data: sharedLiveData(envelope.data),
      priority: envelope.priority,
      timestamp: envelope.timestamp,
      userId: null,
      offset: envelope.offset,
      epoch: envelope.epoch,
    };
    // Anonymous readers have no one to acknowledge for: never ackRequired.
    this.#enqueue(JSON.stringify(shared), message.priority <= Priority.HIGH);
  }

  #forward(channel: string, subscription: Subscription, message: HubMessage): void {
    const last = subscription.position;
    if (message.epoch === last.epoch && message.offset <= last.offset) return;
    subscription.position = { epoch: message.epoch, offset: message.offset };
    // Filtered out messages still move the position: the client resumes after them, not before.
    if (subscription.filter && !subscription.filter(this.user, message)) return;
    if (subscription.shared) return this.#forwardShared(channel, message);
    const urgent = message.priority <= Priority.HIGH;
    if (!urgent) return this.#enqueue(message.raw, false);
    if (message.ackRaw === undefined) {
      message.ackRaw = withFields(message.raw, ',"ackRequired":true');
      // Encoded once for every reader, not once per socket.
      message.ackBytes = Buffer.from(message.ackRaw);
    }
    // Sent first, recorded after: the record is written to the store later in this turn of the
    // event loop either way, and always before any ack of it can arrive (a later turn).
    this.#enqueue(message.ackRaw, true, message.ackBytes);
    this.#context.acks.record(this.user.id, {
      id: message.id,
      channel,
      epoch: message.epoch,
      offset: message.offset,
    });
  }

  /**
   * Queues one channel message; `urgent` sends it (and whatever waits before it) at once. `bytes`,
   * `raw` encoded, is sent as it is when nothing waits before it.
   */
  #enqueue(raw: string, urgent: boolean, bytes?: Buffer): void {
    if (this.#closing || this.#socket.readyState !== this.#socket.OPEN) return;
    const { limits, metrics } = this.#context;
    if (this.#unreadBytes() + this.#batchBytes + raw.length > limits.maxBufferedBytes) {
      return this.#dropSlow();
    }
    if (urgent && bytes && !this.#batch?.length) {
      metrics.messagesOut.inc();
      return this.#write(bytes);
    }
    const batch = (this.#batch ??= []);
    batch.push(raw);
    this.#batchBytes += raw.length;
    if (urgent || batch.length >= limits.batchMaxMessages) this.#flush();
    else this.#batchTimer ??= setTimeout(() => this.#flush(), limits.batchDelayMs);
  }

  #flush(): void {
    clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
    const batch = this.#batch;
    if (!batch?.length) return;
    this.#batch = undefined;
    this.#batchBytes = 0;
    const { metrics } = this.#context;
    metrics.messagesOut.inc(batch.length);
    if (batch.length === 1) return this.#write(batch[0]!);
    metrics.batches.inc();
    this.#write(`{"type":"batch","messages":[${batch.join(',')}]}`);
  }

  #discardBatch(): void {
    clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
    const waiting = this.#batch?.length ?? 0;
    if (waiting > 0) this.#context.metrics.drops.inc({ reason: 'closed' }, waiting);
    this.#batch = undefined;
    this.#batchBytes = 0;
  }

  /**
   * A client that cannot keep up would otherwise grow this process's memory without bound; it is
   * closed (4008) and will resume from its last offset. Others never wait for it: sends never block.
   */
  #dropSlow(): void {
    const { metrics, log } = this.#context;
    metrics.slowDisconnects.inc();
    metrics.drops.inc({ reason: 'slow' }, (this.#batch?.length ?? 0) + 1);
    this.#batch = undefined;
    log.warn(
      { connectionId: this.id, unread: this.#unreadBytes(), buffered: this.#socket.bufferedAmount },
      'closing a slow consumer',
    );
    this.close(CloseCodes.SLOW, 'slow');
  }

  /**
   * Bytes sent that the client has not shown it read. What the process still holds
   * (`bufferedAmount`) is only part of it: the kernel's socket buffers at both ends take megabytes
   * from a client that reads nothing before anything stays in the process. A pong answers a ping
   * only once the client has read everything sent before that ping, so it confirms those bytes.
   * A client that answers pings it was never sent confirms nothing real, so what the process holds
   * is counted on its own too: its memory stays bounded whatever the client does.
   */
  #unreadBytes(): number {
    return Math.max(this.#sentBytes - this.#readBytes, this.#socket.bufferedAmount);
  }

  /** Pings unless a ping is already unanswered: its pong will confirm what was sent before it. */
  #probe(): void {
    if (this.#pingedAt !== undefined) return;
    this.#pingedAt = this.#sentBytes;
    this.#socket.ping();
  }

  #error(code: ErrorCode, detail: string, channel?: string): void {
    this.#sendControl(
      channel === undefined ? { type: 'error', code, detail } : { type: 'error', code, channel, detail },
    );
  }

  /** Control frames keep their place after every message already decided on. */
  #sendControl(frame: object): void {
    if (this.#closing) return;
    this.#flush();
    this.#write(JSON.stringify(frame));
  }

  #write(data: string | Buffer): void {
    if (this.#closing || this.#socket.readyState !== this.#socket.OPEN) return;
    this.#socket.send(data, TEXT);
    this.#sentBytes += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    // Half the bound unconfirmed: ask the client to confirm, so one that keeps up never reaches it.
    if (this.#sentBytes - this.#readBytes > this.#context.limits.maxBufferedBytes / 2) this.#probe();
  }

  /**
   * A protocol ping; no pong within `heartbeatTimeoutMs` terminates the socket. The gateway pings
   * every session every `heartbeatMs` from one timer (its `heartbeatSlot` says when within the
   * interval), not one timer per socket.
   */
  ping(): void {
    if (this.#closed) return;
    if (this.#pongDeadline) return;
    this.#pongDeadline = setTimeout(() => {
      this.#context.log.info({ connectionId: this.id }, 'heartbeat timed out');
      this.#socket.terminate();
    }, this.#context.limits.heartbeatTimeoutMs);
    // A slow-consumer probe still unanswered serves as this ping: its pong proves the peer alive too.
    this.#probe();
  }

  /** @internal The peer answered a ping (the socket's shared `pong` listener). */
  onPong(): void {
    clearTimeout(this.#pongDeadline);
    this.#pongDeadline = undefined;
    if (this.#pingedAt !== undefined) this.#readBytes = this.#pingedAt;
    this.#pingedAt = undefined;
  }

  /** @internal The socket failed (its shared `error` listener terminates it next). */
  onSocketError(err: Error): void {
    this.#context.log.info({ err, connectionId: this.id }, 'socket error');
  }

  /** @internal The socket closed (its shared `close` listener): releases everything, once. */
  dispose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = true;
    clearTimeout(this.#pongDeadline);
    clearTimeout(this.#killTimer);
    this.#discardBatch();
    const subscriptions = this.#subscriptions;
    this.#subscriptions = undefined;
    for (const [channel, subscription] of subscriptions ?? []) {
      clearTimeout(subscription.expiry);
      this.#context.hub.unsubscribe(subscription.shared?.channel ?? channel, this);
    }
    this.#context.onClose(this);
  }
}

/** Adds fields to a serialized JSON object without parsing it again. */
function withFields(raw: string, fields: string): string {
  return raw.slice(0, raw.lastIndexOf('}')) + fields + '}';
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
