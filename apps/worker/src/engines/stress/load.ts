import { performance } from 'node:perf_hooks';
import { EgressError } from '@crucible/egress';
import { Client } from 'undici';
import type { Dispatcher, buildConnector } from 'undici';
import { EngineError } from '../../errors.js';
import { activeUsers } from './plan.js';
import type { StressPlan } from './plan.js';
import type { StressTally } from './tally.js';

/** Pause of a virtual user after a transport error, so a dead target is not hammered in a tight loop. */
const ERROR_BACKOFF_MS = 50;

interface User extends Dispatcher.DispatchHandler {
  index: number;
  client: Client;
  startedAt: number;
  status: number;
  /** Waiting for the schedule to allow it (ramp-up, stress steps, spike). */
  parked: boolean;
  timer: NodeJS.Timeout | undefined;
}

function errorKind(err: unknown): string {
  if (err instanceof EgressError) return err.code;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'REQUEST_FAILED';
}

export interface LoadOptions {
  plan: StressPlan;
  /** The target's origin: every connection dials it through `connect`. */
  origin: string;
  /** The egress guard's pinned connector: every connection goes to the one checked address. */
  connect: buildConnector.connector;
  /** What connections being opened listen on: aborted with the load. */
  connecting: AbortController;
  tally: StressTally;
  /** `performance.now()` when the run started: the rate's schedule begins there. */
  started: number;
}

/**
 * The virtual users of a stress run: a plain per-user loop of undici's dispatch API, each user the
 * handler of its own requests (see the note in stress.engine.ts), let in and held back by the
 * schedule (`activeUsers`) and paced by `rate`. Counts go to the tally.
 */
export class Load {
  readonly #plan: StressPlan;
  readonly #connecting: AbortController;
  readonly #users: User[];
  /** No new request starts once set; `#aborted` also ends those in flight, uncounted. */
  #stopping = false;
  #aborted = false;
  #allowed: number;
  #nextSlot: number;
  #inFlight = 0;
  #onIdle: (() => void) | null = null;

  constructor(options: LoadOptions) {
    const { plan, origin, connect } = options;
    this.#plan = plan;
    this.#connecting = options.connecting;
    this.#allowed = activeUsers(plan.mode, plan.connections, 0, plan.totalSec, plan.rampUpSec);
    this.#nextSlot = options.started;
    const tally = options.tally;
    // Legacy (onConnect/onHeaders/onData/onComplete/onError) handler methods: the interface undici's
    // own core calls, so no wrapper and no parsing of the response headers, which are never read.
    this.#users = Array.from({ length: plan.connections }, (_, index) => {
      const user: User = {
        index,
        // One connection per virtual user, as autocannon does: `connections` sockets, each keep-alive.
        // With pipelining 1 undici writes the next request one event-loop turn after the answer (it
        // first checks the idle socket for stray bytes). Pipelining 2 would write it from onComplete,
        // as autocannon does, but gave no more req/s in the benchmark (README, "Targets missed").
        client: new Client(origin, { connect, pipelining: 1 }),
        startedAt: 0,
        status: 0,
        parked: false,
        timer: undefined,
        onConnect() {},
        onHeaders(statusCode) {
          user.status = statusCode;
          return true;
        },
        onData(chunk) {
          tally.bytes += chunk.length;
          return true;
        },
        onComplete: () => {
          tally.response(Math.max(1, Math.round((performance.now() - user.startedAt) * 1000)), user.status);
          this.#settled();
          this.#next(user);
        },
        onError: (err) => {
          this.#settled();
          if (this.#aborted) return;
          tally.transportError(errorKind(err));
          if (!this.#stopping) user.timer = setTimeout(this.#next, ERROR_BACKOFF_MS, user);
        },
      };
      return user;
    });
  }

  /** Virtual users the schedule allows now, at most the connections. */
  get active(): number {
    return Math.min(this.#allowed, this.#plan.connections);
  }

  /** Connections open now. */
  get connected(): number {
    return this.#users.reduce((n, u) => n + (u.client.stats.connected ? 1 : 0), 0);
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  /** Every user the schedule allows sends its first request. */
  start(): void {
    for (const u of this.#users) this.#next(u);
  }

  /** Lets the schedule's users in (or holds them back) `at` seconds into the run. */
  schedule(at: number): void {
    const { mode, connections, totalSec, rampUpSec } = this.#plan;
    this.#allowed = activeUsers(mode, connections, at, totalSec, rampUpSec);
    if (this.#stopping) return;
    for (const u of this.#users) {
      if (u.parked && u.index < this.#allowed) {
        u.parked = false;
        this.#next(u);
      }
    }
  }

  /** No new request starts; those in flight go on. */
  stop(): void {
    this.#stopping = true;
    for (const u of this.#users) clearTimeout(u.timer);
  }

  /** Stops the load at once: no new request, the connections destroyed with what is in flight. */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.stop();
    this.#connecting.abort(reason);
    void this.close();
    this.#onIdle?.();
  }

  /**
   * Once stopped, lets the requests in flight finish, so the count matches what the target saw;
   * those still in flight after `ms` are aborted.
   */
  async drain(ms: number): Promise<void> {
    if (this.#aborted || this.#inFlight === 0) return;
    const idle = new Promise<void>((resolve) => (this.#onIdle = resolve));
    const drainTimer = setTimeout(
      () => this.abort(new EngineError('ABORTED', 'requests still in flight after the test')),
      ms,
    );
    await idle;
    clearTimeout(drainTimer);
  }

  /** Destroys every connection, which ends the requests in flight at once. */
  close(): Promise<void[]> {
    return Promise.all(this.#users.map((u) => u.client.destroy().catch(() => {})));
  }

  #settled(): void {
    this.#inFlight--;
    if (this.#stopping && this.#inFlight === 0) this.#onIdle?.();
  }

  readonly #send = (user: User): void => {
    user.timer = undefined;
    if (this.#stopping) return;
    this.#inFlight++;
    user.startedAt = performance.now();
    user.client.dispatch(this.#plan.request, user);
  };

  readonly #next = (user: User): void => {
    if (this.#stopping) return;
    if (user.index >= this.#allowed) {
      user.parked = true;
      return;
    }
    const rate = this.#plan.rate;
    if (rate !== null) {
      // One global schedule of request start times, `1000 / rate` ms apart.
      const now = performance.now();
      const slot = Math.max(now, this.#nextSlot);
      this.#nextSlot = slot + 1000 / rate;
      if (slot > now) {
        user.timer = setTimeout(this.#send, slot - now, user);
        return;
      }
    }
    this.#send(user);
  };
}
