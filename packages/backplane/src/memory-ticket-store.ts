import type { TicketStore, TicketSubject } from '@crucible/contracts';
import { isTicketShaped, newTicket, ticketHash } from './tickets.js';
import type { TicketStoreOptions } from './tickets.js';

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
