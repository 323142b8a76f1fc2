import { Channels, Events, Priority, createMessage } from '@crucible/contracts';
import type { ConnectionRegistry, EventLog } from '@crucible/contracts';
import type { FastifyBaseLogger } from 'fastify';

type PresenceEvent = typeof Events.USER_ONLINE | typeof Events.USER_OFFLINE;

const noop = () => {};

/**
 * Who is online, across gateways (DESIGN.md, "Presence"): `user:online` when a user's first socket
 * takes its place in the connection registry, `user:offline` when the last place is released —
 * or, for a gateway that died and so cannot say it, when a live gateway finds its lease expired.
 * Presence publishes and place releases still in flight are tracked, with any other work a clean
 * shutdown must wait for, so a user's `user:offline` is out before the process moves on.
 */
export class Presence {
  readonly #connections: ConnectionRegistry;
  readonly #eventLog: Pick<EventLog, 'publish'>;
  readonly #log: FastifyBaseLogger;
  readonly #inflight = new Set<Promise<void>>();

  constructor(connections: ConnectionRegistry, eventLog: Pick<EventLog, 'publish'>, log: FastifyBaseLogger) {
    this.#connections = connections;
    this.#eventLog = eventLog;
    this.#log = log;
    // A gateway that died cannot say its users went offline: whichever live gateway first finds a
    // user's last lease expired does (once across all of them).
    connections.onExpired((userId) => this.#track(this.#publish(Events.USER_OFFLINE, userId)));
  }

  /** Waits for `task` (whatever its outcome) before a clean shutdown completes. */
  track(task: Promise<unknown>): void {
    this.#track(task.then(noop, noop));
  }

  /** The user's first socket opened here. */
  online(userId: string): void {
    this.#track(this.#publish(Events.USER_ONLINE, userId));
  }

  /** Gives a socket's place back; the user's last place gone, says it went offline. */
  release(userId: string, connectionId: string): void {
    this.#track(
      this.#connections.release(userId, connectionId).then(
        (left) => (left === 0 ? this.#publish(Events.USER_OFFLINE, userId) : undefined),
        (err: unknown) =>
          this.#log.warn({ err }, 'releasing a connection place failed; its lease will expire'),
      ),
    );
  }

  /** Gives back the place of a user nobody was told came online, so nobody is told it left. */
  releaseUnannounced(userId: string, connectionId: string): void {
    this.track(this.#connections.release(userId, connectionId));
  }

  /** Resolves once nothing tracked is in flight, including what finishing work started. */
  async settled(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  #track(task: Promise<void>): void {
    this.#inflight.add(task);
    void task.finally(() => this.#inflight.delete(task));
  }

  async #publish(event: PresenceEvent, userId: string): Promise<void> {
    try {
      await this.#eventLog.publish(
        createMessage({
          event,
          channel: Channels.USER_ACTIVITY,
          data: { userId },
          userId,
          priority: Priority.LOW,
        }),
      );
    } catch (err) {
      this.#log.warn({ err, event }, 'publishing presence failed');
    }
  }
}
