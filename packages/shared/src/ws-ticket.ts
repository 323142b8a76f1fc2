import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Role } from './auth.js';

/** Who a WebSocket ticket lets in: a snapshot of the user that asked for it. */
export interface TicketSubject {
  userId: string;
  email: string;
  role: Role;
  /** Set when the ticket was bought with an API key, so revoking the key closes the socket. */
  apiKeyId?: string;
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

function newTicket(): string {
  return WS_TICKET_PREFIX + randomBytes(32).toString('base64url');
}

// Stored by hash, like API keys: whoever can read the store cannot use what is in it.
function ticketHash(ticket: string): string {
  return createHash('sha256').update(ticket).digest('hex');
}

function isTicketShaped(ticket: string): boolean {
  return ticket.startsWith(WS_TICKET_PREFIX) && ticket.length <= 100;
}

export interface TicketStoreOptions {
  /** How long a ticket stays usable. @defaultValue 30000 */
  ttlMs?: number;
}

/** Tickets in Redis with a TTL, consumed with GETDEL so two sockets can never share one. */
export class RedisTicketStore implements TicketStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #ttlMs: number;

  constructor(redis: Redis, options: TicketStoreOptions & { prefix: string }) {
    this.#redis = redis;
    this.#prefix = `${options.prefix}:ws-ticket:`;
    this.#ttlMs = options.ttlMs ?? 30_000;
  }

  async issue(subject: TicketSubject): Promise<{ ticket: string; expiresInMs: number }> {
    const ticket = newTicket();
    await this.#redis.set(this.#prefix + ticketHash(ticket), JSON.stringify(subject), 'PX', this.#ttlMs);
    return { ticket, expiresInMs: this.#ttlMs };
  }

  async consume(ticket: string): Promise<TicketSubject | undefined> {
    if (!isTicketShaped(ticket)) return undefined;
    const raw = await this.#redis.getdel(this.#prefix + ticketHash(ticket));
    return raw === null ? undefined : (JSON.parse(raw) as TicketSubject);
  }
}

/** The embedded-mode store: api and gateway share one process. */
export class MemoryTicketStore implements TicketStore {
  readonly #tickets = new Map<string, { subject: TicketSubject; expiresAt: number }>();
  readonly #ttlMs: number;

  constructor(options: TicketStoreOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 30_000;
  }

  async issue(subject: TicketSubject): Promise<{ ticket: string; expiresInMs: number }> {
    const now = Date.now();
    // Expired tickets are swept on issue, so the map holds at most one TTL's worth.
    for (const [hash, entry] of this.#tickets) if (entry.expiresAt <= now) this.#tickets.delete(hash);
    const ticket = newTicket();
    this.#tickets.set(ticketHash(ticket), { subject, expiresAt: now + this.#ttlMs });
    return { ticket, expiresInMs: this.#ttlMs };
  }

  async consume(ticket: string): Promise<TicketSubject | undefined> {
    if (!isTicketShaped(ticket)) return undefined;
    const hash = ticketHash(ticket);
    const entry = this.#tickets.get(hash);
    this.#tickets.delete(hash);
    return entry && entry.expiresAt > Date.now() ? entry.subject : undefined;
  }
}
