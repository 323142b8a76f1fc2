import { randomUUID } from 'node:crypto';
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

export interface CreateMessageInput<D> {
  event: Events;
  channel: string;
  data: D;
  /** @defaultValue Priority.NORMAL */
  priority?: Priority;
  userId?: string | null;
}

export function createMessage<D>(input: CreateMessageInput<D>): DraftMessage<D> {
  return {
    id: randomUUID(),
    event: input.event,
    channel: input.channel,
    data: input.data,
    priority: input.priority ?? Priority.NORMAL,
    timestamp: Date.now(),
    userId: input.userId ?? null,
  };
}
