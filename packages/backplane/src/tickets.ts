import { createHash, randomBytes } from 'node:crypto';
import { WS_TICKET_PREFIX } from '@crucible/contracts';

export function newTicket(): string {
  return WS_TICKET_PREFIX + randomBytes(32).toString('base64url');
}

// Stored by hash, like API keys: whoever can read the store cannot use what is in it.
export function ticketHash(ticket: string): string {
  return createHash('sha256').update(ticket).digest('hex');
}

export function isTicketShaped(ticket: string): boolean {
  return ticket.startsWith(WS_TICKET_PREFIX) && ticket.length <= 100;
}

export interface TicketStoreOptions {
  /** How long a ticket stays usable. @defaultValue 30000 */
  ttlMs?: number;
}
