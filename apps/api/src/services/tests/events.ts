import { Priority, createMessage } from '@crucible/contracts';
import type { EventLog, EventPayloads, Events } from '@crucible/contracts';

/** Publishes one event at high priority; a failure is logged, never thrown (the row is the record). */
export type Publish = <E extends Events>(
  event: E,
  channel: string,
  data: EventPayloads[E],
  userId: string | null,
) => Promise<unknown>;

export function createPublish(eventLog: EventLog, log: { warn(obj: object, msg: string): void }): Publish {
  return (event, channel, data, userId) =>
    eventLog
      .publish(createMessage({ event, channel, data, priority: Priority.HIGH, userId }))
      .catch((err: unknown) => log.warn({ err, event, channel }, 'could not publish'));
}
