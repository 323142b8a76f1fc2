import type { Role } from './auth.js';
import type { WorkspaceRole } from './workspaces.js';
import type { DraftMessage, Envelope } from './envelope.js';

// What the backplane's stores do, whichever store holds them (Redis in distributed mode, this
// process's memory in embedded mode): the apps program against these, @crucible/backplane implements them.

export interface Recovery {
  /** The channel's current epoch, or null when it has never carried a message. */
  epoch: string | null;
  /** The offset of the newest message (0 when none). */
  offset: number;
  /** Retained messages with an offset greater than the one asked for, in order. */
  messages: Envelope[];
  /** False when messages after the asked offset were trimmed away: the replay would have a gap. */
  complete: boolean;
}

export interface PublishAllOptions {
  /**
   * The messages announce records the same write just created: no cached view of any of them can
   * exist yet, so a wrapper that invalidates cached views drops only the lists that will show
   * them, not each record's own entries.
   */
  created?: boolean;
}

/** The one way apps publish: every message gets its channel's next offset within an epoch. */
export interface EventLog {
  publish<D>(draft: DraftMessage<D>): Promise<Envelope<D>>;
  /**
   * Publishes several messages as if one after another (in order; each gets its channel's next
   * offset), in as few round trips as the log can: one for the lot in Redis.
   */
  publishAll(drafts: readonly DraftMessage[], options?: PublishAllOptions): Promise<Envelope[]>;
  recover(channel: string, sinceOffset: number): Promise<Recovery>;
}

export type PubSubHandler = (payload: string, topic: string) => void;

/**
 * Fire-and-forget broadcast between processes: control messages (cancel, cache invalidation) and the
 * live side of channels. Redis pub/sub in distributed mode, an in-process bus in embedded mode.
 * Topics are local names; an implementation namespaces them per deployment.
 */
export interface PubSub {
  publish(topic: string, payload: string): Promise<void>;
  /** The first handler of a topic subscribes it; later ones share that subscription. */
  subscribe(topic: string, handler: PubSubHandler): Promise<void>;
  /** The last handler leaving a topic unsubscribes it. */
  unsubscribe(topic: string, handler: PubSubHandler): Promise<void>;
  /**
   * Calls `listener` each time the bus has re-established its subscriptions after losing its
   * connection: messages published meanwhile were not delivered, so readers should recover them
   * from history. A bus that cannot lose messages (in-process) never calls it.
   */
  onReconnect?(listener: () => void): void;
  close(): Promise<void>;
}

/** The pub/sub topic that carries a Crucible channel's live messages (see `channelKeys().pubsub`). */
export function channelTopic(channel: string): string {
  return `ch:${channel}`;
}

/** A CRITICAL or HIGH message that was sent to a user and not yet acknowledged. */
export interface UnackedMessage {
  id: string;
  channel: string;
  epoch: string;
  offset: number;
}

/**
 * What each user has been sent and not acknowledged, shared by every gateway so that a client
 * resuming on another gateway still gets it again.
 */
export interface AckStore {
  expect(userId: string, message: UnackedMessage): Promise<void>;
  ack(userId: string, id: string): Promise<void>;
  /**
   * Many `expect`s, then many `ack`s (per user: message ids), as if called one by one in that
   * order, in as few round trips as the store can (Redis: one).
   */
  writeAll?(
    expects: ReadonlyMap<string, ReadonlyMap<string, UnackedMessage>>,
    acks: ReadonlyMap<string, ReadonlySet<string>>,
  ): Promise<void>;
  /** The user's unacknowledged messages of the channel in this epoch at or before `uptoOffset`, oldest first. */
  unacked(userId: string, channel: string, epoch: string, uptoOffset: number): Promise<UnackedMessage[]>;
}

/**
 * Counts each user's open sockets across every gateway, so the per-user limit holds however many
 * gateways run. A gateway that dies without releasing its sockets must not hold their places forever.
 */
export interface ConnectionRegistry {
  /** Registers the socket unless the user already has `max`; the user's count after it, or null when refused. */
  acquire(userId: string, connectionId: string, max: number): Promise<number | null>;
  /** Removes the socket; the user's count left. */
  release(userId: string, connectionId: string): Promise<number>;
  /**
   * Calls `listener` with each user whose last socket was lost with its gateway (the gateway died
   * without releasing it and its lease ran out): nobody else will say that user went offline.
   * Across every gateway listening, each such user is reported once.
   */
  onExpired(listener: (userId: string) => void): void;
  /** Stops background work; sockets still registered are left to expire. */
  close(): Promise<void>;
}

/** Who a WebSocket ticket lets in: a snapshot of the user that asked for it. */
export interface TicketSubject {
  userId: string;
  email: string;
  role: Role;
  /** Set when the ticket was bought with an API key, so revoking the key closes the socket. */
  apiKeyId?: string;
  /** The key's workspace and role, when bought with an API key: the socket reads that workspace only. */
  apiKeyAccess?: { workspaceId: string; role: WorkspaceRole };
  /** Set when the ticket was bought with a session token, so signing that session out closes the socket. */
  sessionId?: string;
}

/**
 * Short-lived, single-use credentials for browsers, which cannot set an `Authorization` header on
 * a WebSocket and should not put a long-lived token in a URL. Issued by the API, consumed by the
 * gateway: both must see the same store.
 */
export interface TicketStore {
  issue(subject: TicketSubject): Promise<{ ticket: string; expiresInMs: number }>;
  /** The subject of a live ticket, which is gone afterwards; undefined for unknown, used or expired ones. */
  consume(ticket: string): Promise<TicketSubject | undefined>;
}

export const WS_TICKET_PREFIX = 'wst_';

/**
 * Where worker presence and the reconciler's pass lock live: a Redis hash per deployment
 * (distributed mode) or this process's memory (embedded mode, one process).
 */
export interface PresenceStore {
  put(id: string, value: string): Promise<void>;
  remove(...ids: string[]): Promise<void>;
  all(): Promise<Record<string, string>>;
  /** Takes the lock `name` for `ms` unless someone holds it; true when this caller got it. */
  lock(name: string, holder: string, ms: number): Promise<boolean>;
}

/** What asking for a stress test's connections gave. */
export interface StressReservation {
  /** The connections are held for the test; false: holding them would pass the cap. */
  granted: boolean;
  /** Connections the owner's other stress tests hold. */
  inUse: number;
}

/**
 * Connections held by each owner's running stress tests (an owner is a user until workspaces
 * exist, then a workspace), so that an owner's tests together stay under a cap however many
 * workers run them. The same holds count the stress tests against each target host (an owner is
 * a host's address, each test holding 1), in a store of their own. A worker that dies without releasing must not hold them for ever: in Redis a
 * hold is a lease that its worker renews, and it lapses with the worker.
 */
export interface StressConnectionStore {
  /**
   * Holds `connections` for `testId` unless the owner's other holds plus these pass `max`; atomic
   * across every worker. Holding again (a test run again after its worker was lost) replaces the
   * test's earlier hold. A granted hold clears the test's waiting note.
   */
  reserve(owner: string, testId: string, connections: number, max: number): Promise<StressReservation>;
  /** Gives the test's connections back. */
  release(owner: string, testId: string): Promise<void>;
  /**
   * Notes why a queued test waits, for `ttlMs` (each retry writes it again) or until it is granted.
   * Resolves true when the test had no note (it starts waiting now).
   */
  setWaiting(testId: string, reason: string, ttlMs: number): Promise<boolean>;
  /** Why each of these tests waits, for those that do. */
  waiting(testIds: readonly string[]): Promise<Map<string, string>>;
  /** Stops renewing; holds still there lapse with their lease. */
  close(): Promise<void>;
}
