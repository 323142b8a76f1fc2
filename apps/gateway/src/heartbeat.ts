import type { Session } from './session.js';

/** Sessions are pinged in this many groups, one group per `heartbeatMs / HEARTBEAT_SLOTS`. */
const HEARTBEAT_SLOTS = 10;

/**
 * One timer pings every socket (a timer per socket is memory every idle socket pays for), a
 * tenth of them each tenth of the interval: pinging all at once (and then reading all their
 * pongs) would stall every delivery for a while each interval, longer the more sockets held.
 */
export class Heartbeat {
  readonly #timer: NodeJS.Timeout;
  #tick = 0;
  #nextSlot = 0;

  constructor(sessions: Iterable<Session>, heartbeatMs: number) {
    this.#timer = setInterval(
      () => {
        const slot = this.#tick++ % HEARTBEAT_SLOTS;
        for (const session of sessions) if (session.heartbeatSlot === slot) session.ping();
      },
      Math.max(1, Math.floor(heartbeatMs / HEARTBEAT_SLOTS)),
    );
  }

  /** The group a new session joins: sessions are spread over the groups in turn. */
  nextSlot(): number {
    return this.#nextSlot++ % HEARTBEAT_SLOTS;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
