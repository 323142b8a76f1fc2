import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { hashShareId } from '@crucible/runtime';
import type { AuthUser } from '@crucible/runtime';
import { SHARE_ID_PATTERN } from '@crucible/contracts';
import type { ConnectionRegistry, TicketStore } from '@crucible/contracts';
import type { FastifyReply, FastifyRequest } from 'fastify';
// Types only: `ws` reaches this app through @fastify/websocket, not as a runtime dependency of its own.
import type { WebSocket } from 'ws';
import type { ShareLookup } from './channel-access.js';
import type { GatewayLimits } from './env.js';
import { bearer, problem } from './http.js';
import type { GatewayMetrics } from './metrics.js';
import type { Presence } from './presence.js';

export interface AdmissionOptions {
  /** Resolves a bearer credential (session token or API key) to its user. */
  authenticate(credential: string | undefined): Promise<AuthUser | undefined>;
  /** Where `?ticket=` credentials are consumed; without it tickets are refused. */
  tickets: TicketStore | undefined;
  /** Live share links: `?share=` alone opens an anonymous socket that reads that share's channel. */
  shares?: ShareLookup;
  /** Browser origins allowed to connect; empty allows any. */
  allowedOrigins: ReadonlySet<string>;
  limits: GatewayLimits;
  metrics: GatewayMetrics;
  connections: ConnectionRegistry;
  presence: Presence;
  /** How many sockets are open on this gateway now. */
  openSockets(): number;
}

/** An upgrade that was let in, and the place it holds. */
export interface Admitted {
  user: AdmittedUser;
  connectionId: string;
}

/** A signed-in user, or the anonymous reader of one share link (`share`). */
export type AdmittedUser = AuthUser & { share?: { hash: string } };

interface Opening extends Admitted {
  /** Gives the place back if the socket never opens; removed once it does. */
  onAbort: () => void;
  /** The upgrade's raw response, which its TCP socket points to until detached. */
  response: ServerResponse;
}

function shuttingDown(reply: FastifyReply) {
  return problem(reply, 503, 'Service Unavailable', 'UNAVAILABLE', 'this gateway is shutting down');
}

/**
 * Decides before the upgrade whether a socket may open (DESIGN.md, "WebSocket protocol"): its
 * origin, its credential (a ticket, a bearer header or `?token=`), this gateway's connection
 * limit and the user's across gateways — a place in the connection registry held from here on.
 * Upgrades admitted but whose socket is not open yet count against this gateway's limit too.
 */
export class Admission {
  readonly #o: AdmissionOptions;
  readonly #admitted = new WeakMap<FastifyRequest, Opening>();
  #opening = 0;
  #onOpeningSettled: (() => void) | undefined;
  #closing = false;

  constructor(options: AdmissionOptions) {
    this.#o = options;
  }

  /** Shutdown has begun: no upgrade is admitted from now on. */
  close(): void {
    this.#closing = true;
  }

  /**
   * The `/ws` route's `preValidation` hook: it runs before the upgrade, so a refused client gets a
   * plain HTTP answer and never a socket. A clean shutdown waits for admissions under way.
   */
  readonly preValidation = (request: FastifyRequest, reply: FastifyReply) => {
    const admission = this.#admit(request, reply);
    this.#o.presence.track(admission);
    return admission;
  };

  /**
   * The admission of an upgrade whose socket just opened, or undefined when the socket is refused
   * after all (closed here, its place given back): it was not admitted, or shutdown began.
   * Idle sockets are what a gateway holds most of: this lets go of everything the upgrade request
   * made (Fastify's request and reply, the raw request and response, their logger) once the
   * socket is open. @fastify/websocket's error listener would keep them for the socket's life:
   * whoever takes the socket replaces it (Session.start), as does the refusal here.
   */
  opened(request: FastifyRequest, socket: WebSocket): Admitted | undefined {
    const entry = this.#admitted.get(request);
    if (!entry) {
      socket.close(1013, 'connection limit reached');
      return undefined;
    }
    this.#admitted.delete(request);
    this.#settleOpening();
    const { user, connectionId, onAbort, response } = entry;
    request.raw.off('close', onAbort);
    response.detachSocket(request.raw.socket);
    if (this.#closing) {
      socket.removeAllListeners('error');
      socket.on('error', () => socket.terminate());
      socket.close(1001, 'server shutting down');
      this.#o.presence.release(user.id, connectionId);
      return undefined;
    }
    return { user, connectionId };
  }

  /** Resolves once every admitted upgrade has opened its socket or gone away, or `grace` is over. */
  async openingSettled(grace: Promise<void>): Promise<void> {
    if (this.#opening > 0) {
      await Promise.race([new Promise<void>((resolve) => (this.#onOpeningSettled = resolve)), grace]);
    }
  }

  #settleOpening(): void {
    if (--this.#opening === 0) this.#onOpeningSettled?.();
  }

  async #admit(request: FastifyRequest, reply: FastifyReply) {
    const { limits, metrics, connections, presence } = this.#o;
    if (this.#closing) return shuttingDown(reply);
    const origin = request.headers.origin;
    if (this.#o.allowedOrigins.size > 0 && origin !== undefined && !this.#o.allowedOrigins.has(origin)) {
      metrics.connectionsRefused.inc({ reason: 'origin' });
      return problem(reply, 403, 'Forbidden', 'FORBIDDEN', 'origin not allowed');
    }
    const user = await this.#authenticate(request);
    if (this.#closing) return shuttingDown(reply);
    if (!user) {
      metrics.connectionsRefused.inc({ reason: 'unauthorized' });
      reply.header('www-authenticate', 'Bearer');
      return problem(reply, 401, 'Unauthorized', 'UNAUTHORIZED', 'missing or invalid token');
    }
    if (this.#o.openSockets() + this.#opening >= limits.maxConnections) {
      metrics.connectionsRefused.inc({ reason: 'gateway_full' });
      return problem(reply, 503, 'Service Unavailable', 'LIMIT', 'this gateway is at its connection limit');
    }
    const connectionId = randomUUID();
    const count = await connections.acquire(user.id, connectionId, limits.maxConnectionsPerUser);
    if (count === null) {
      metrics.connectionsRefused.inc({ reason: 'user_limit' });
      return problem(reply, 429, 'Too Many Requests', 'LIMIT', 'too many open connections for this user');
    }
    if (this.#closing) {
      // Nobody was told this user came online through this socket, so nobody is told it left.
      if (count === 1) presence.releaseUnannounced(user.id, connectionId);
      else presence.release(user.id, connectionId);
      return shuttingDown(reply);
    }
    if (count === 1) presence.online(user.id);
    this.#opening++;
    // The socket may never open (the peer went away mid-upgrade): its place is given back.
    const onAbort = () => {
      if (!this.#admitted.has(request)) return;
      this.#admitted.delete(request);
      this.#settleOpening();
      presence.release(user.id, connectionId);
    };
    this.#admitted.set(request, { user, connectionId, onAbort, response: reply.raw });
    request.raw.once('close', onAbort);
  }

  async #authenticate(request: FastifyRequest): Promise<AdmittedUser | undefined> {
    const query = request.query as Record<string, unknown>;
    const credential =
      bearer(request.headers.authorization) ?? (typeof query.token === 'string' ? query.token : undefined);
    if (credential === undefined && typeof query.ticket !== 'string' && typeof query.share === 'string') {
      return this.#shareReader(query.share);
    }
    if (typeof query.ticket === 'string') {
      const subject = await this.#o.tickets?.consume(query.ticket);
      return subject
        ? {
            id: subject.userId,
            email: subject.email,
            role: subject.role,
            apiKeyId: subject.apiKeyId,
            apiKeyAccess: subject.apiKeyAccess,
            sessionId: subject.sessionId,
          }
        : undefined;
    }
    return this.#o.authenticate(credential);
  }

  /**
   * The anonymous reader of a live share link: counted as one "user" per share in the connection
   * registry (so one link holds at most `maxConnectionsPerUser` sockets), allowed that share's
   * channel only.
   */
  async #shareReader(shareId: string): Promise<AdmittedUser | undefined> {
    if (!this.#o.shares || !SHARE_ID_PATTERN.test(shareId)) return undefined;
    const hash = hashShareId(shareId);
    const share = await this.#o.shares.findActive(hash);
    return share ? { id: `share:${share.id}`, email: '', role: 'user', share: { hash } } : undefined;
  }
}
