import type { Redis } from 'ioredis';
import type { TicketStore, TicketSubject } from '@crucible/contracts';
import { isTicketShaped, newTicket, ticketHash } from './tickets.js';
import type { TicketStoreOptions } from './tickets.js';

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
