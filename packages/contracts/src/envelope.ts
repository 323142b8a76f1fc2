import type { EventPayloads } from './event-payloads.js';
import { Priority } from './events.js';
import type { Events } from './events.js';

/** The message every channel carries (DESIGN.md, "Envelope"). */
export interface Envelope<D = unknown> {
  id: string;
  event: Events;
  channel: string;
  data: D;
  priority: Priority;
  /** Milliseconds since the Unix epoch when the message was created. */
  timestamp: number;
  /** The user the message is about (the test owner), or null for system-wide messages. */
  userId: string | null;
  /** Position in the channel within `epoch`; assigned by the publisher, consecutive from 1. */
  offset: number;
  /** Identifies one unbroken history of the channel; changes when the history is lost. */
  epoch: string;
}

/** An envelope before the publisher has placed it in its channel's history. */
export type DraftMessage<D = unknown> = Omit<Envelope<D>, 'offset' | 'epoch'>;

/** A message of one event with that event's payload; narrow on `event` to read typed `data`. */
export type EventMessage<E extends Events = Events> = {
  [K in E]: Envelope<EventPayloads[K]> & { event: K };
}[E];

export interface CreateMessageInput<E extends Events> {
  event: E;
  channel: string;
  /** The payload of `event` ({@link EventPayloads}): a wrong shape does not compile. */
  data: EventPayloads[E];
  /** @defaultValue Priority.NORMAL */
  priority?: Priority;
  userId?: string | null;
}

export function createMessage<E extends Events>(
  input: CreateMessageInput<E>,
): DraftMessage<EventPayloads[E]> {
  return {
    // The global Web Crypto (browsers, Node.js ≥ 19): the contracts load in the dashboard too.
    id: globalThis.crypto.randomUUID(),
    event: input.event,
    channel: input.channel,
    data: input.data,
    priority: input.priority ?? Priority.NORMAL,
    timestamp: Date.now(),
    userId: input.userId ?? null,
  };
}
