import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import websocket from '@fastify/websocket';
import type { AuthUser, TestsRepository } from '@crucible/db';
import {
  Channels,
  Events,
  MemoryAckStore,
  MemoryConnectionRegistry,
  Priority,
  createMessage,
  redactUrl,
} from '@crucible/shared';
import type { AckStore, ConnectionRegistry, EventLog, PubSub, TicketStore } from '@crucible/shared';
import type { FastifyBaseLogger, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Registry } from 'prom-client';
import { CoalescingAckStore } from './acks.js';
import { Broker } from './broker.js';
import { createChannelAccess } from './channel-access.js';
import { DEFAULT_LIMITS } from './env.js';
import type { GatewayLimits } from './env.js';
import { Hub } from './hub.js';
import { createGatewayMetrics } from './metrics.js';
import { CloseCodes, Session } from './session.js';
import type { SessionContext } from './session.js';

export interface GatewayPluginOptions {
  /** Resolves a bearer credential (session token or API key) to its user. */
  authenticate(credential: string | undefined): Promise<AuthUser | undefined>;
  /** Test ownership for channel authorisation. */
  tests: Pick<TestsRepository, 'ownerOf'>;
  /** History of every channel (for `since` recovery and gap filling); presence is published through it. */
  eventLog: Pick<EventLog, 'recover' | 'publish'>;
  /**
   * The bus that carries channels' live messages on `channelTopic(channel)`: `RedisPubSub` in
   * distributed mode, `MemoryPubSub` embedded. The caller owns it and closes it after the gateway.
   */
  pubsub: PubSub;
  /** Where `?ticket=` credentials (from `POST /api/auth/ws-ticket`) are consumed; without it tickets are refused. */
  tickets?: TicketStore;
  /** Which of these API keys are still active (`ApiKeysRepository` satisfies it); without it revocation is not watched. */
  apiKeys?: { activeIds(ids: string[]): Promise<Set<string>> };
  /** Which of these sign-in sessions are still alive (`SessionsRepository` satisfies it); without it sign-out is not watched. */
  sessions?: { activeIds(ids: string[]): Promise<Set<string>> };
  /** Per-user connection counts shared by every gateway. @defaultValue a MemoryConnectionRegistry (one process) */
  connections?: ConnectionRegistry;
  /** Unacknowledged CRITICAL/HIGH messages, shared by every gateway. @defaultValue a MemoryAckStore (one process) */
  acks?: AckStore;
  /** Where the gateway's Prometheus metrics are registered. @defaultValue a private registry */
  metrics?: Registry;
  /** Where hub and broker log. @defaultValue the Fastify instance's logger */
  logger?: FastifyBaseLogger;
  /** Overrides of individual limits. @defaultValue DEFAULT_LIMITS (DESIGN.md defaults) */
  limits?: Partial<GatewayLimits>;
  /** Browser origins allowed to connect; empty allows any. @defaultValue [] */
  allowedOrigins?: string[];
  /** How long shutdown waits for clients to finish the close handshake before dropping them. @defaultValue 5000 */
  shutdownGraceMs?: number;
  /** How often sockets check that their API key or session is still active. @defaultValue 15000 */
  revalidateMs?: number;
  /** How long a channel stays subscribed on the bus after its last local reader left. @defaultValue 2000 */
  unsubscribeDelayMs?: number;
}

/** The request as Fastify logs it, with credentials in the query redacted. */
export function serializeRequest(request: FastifyRequest) {
  return {
    method: request.method,
    url: redactUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

function problem(reply: FastifyReply, status: number, title: string, code: string, detail: string) {
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ type: 'about:blank', title, status, detail, code });
}

const noop = () => {};

/** Sessions are pinged in this many groups, one group per `heartbeatMs / HEARTBEAT_SLOTS`. */
const HEARTBEAT_SLOTS = 10;

function shuttingDown(reply: FastifyReply) {
  return problem(reply, 503, 'Service Unavailable', 'UNAVAILABLE', 'this gateway is shutting down');
}

function bearer(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

interface Admitted {
  user: AuthUser;
  connectionId: string;
  /** Gives the place back if the socket never opens; removed once it does. */
  onAbort: () => void;
  /** The upgrade's raw response, which its TCP socket points to until detached. */
  response: ServerResponse;
}

/**
 * The WebSocket gateway at `GET /ws` (DESIGN.md, "WebSocket protocol"): authenticates the
 * upgrade, authorises each channel, and fans bus messages out to the sockets. Also serves
 * `GET /gateway/channels` (admin): this gateway's connections and channel occupancy.
 */
export const gatewayPlugin: FastifyPluginAsync<GatewayPluginOptions> = async (app, options) => {
  const limits: GatewayLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const log = options.logger ?? app.log;
  const allowedOrigins = new Set(options.allowedOrigins ?? []);
  const shutdownGraceMs = options.shutdownGraceMs ?? 5_000;
  const connections = options.connections ?? new MemoryConnectionRegistry();
  const gatewayId = randomUUID();
  const sessions = new Set<Session>();
  // Upgrades admitted but whose socket is not open yet count against this gateway's limit too.
  let opening = 0;
  let onOpeningSettled: (() => void) | undefined;
  const settleOpening = () => {
    if (--opening === 0) onOpeningSettled?.();
  };
  /** Shutdown has begun: no upgrade is admitted from now on. */
  let closing = false;
  const admitted = new WeakMap<FastifyRequest, Admitted>();

  const metrics = createGatewayMetrics(options.metrics ?? new Registry(), {
    connections: () => sessions.size,
    subscriptions: () => {
      let n = 0;
      for (const session of sessions) n += session.channelCount;
      return n;
    },
    channels: () => hub.channelCount,
  });
  const broker = new Broker(options.pubsub, (channel, raw) => {
    metrics.messagesIn.inc();
    hub.dispatch(channel, raw);
  });
  const hub = new Hub({
    broker,
    eventLog: options.eventLog,
    log,
    unsubscribeDelayMs: options.unsubscribeDelayMs,
    onRecovery: (outcome) => metrics.recoveries.inc({ kind: 'gap', outcome }),
  });
  options.pubsub.onReconnect?.(() => {
    log.info('bus reconnected; recovering what every channel missed');
    hub.resync();
  });
  const context: SessionContext = {
    hub,
    eventLog: options.eventLog,
    authorize: createChannelAccess(options.tests),
    acks: new CoalescingAckStore(options.acks ?? new MemoryAckStore(), (err) =>
      log.warn({ err }, 'recording expected or received acks failed'),
    ),
    limits,
    metrics,
    log,
    // One function for every session, not a closure per socket.
    onClose: (closed) => {
      sessions.delete(closed);
      release(closed.user.id, closed.id);
    },
  };

  // Presence publishes and connection releases still in flight: a clean shutdown waits for them,
  // so a user's `user:offline` is out before the process (or a test's cleanup) moves on.
  const inflight = new Set<Promise<void>>();
  const track = (task: Promise<void>) => {
    inflight.add(task);
    void task.finally(() => inflight.delete(task));
  };
  const publishPresence = async (
    event: typeof Events.USER_ONLINE | typeof Events.USER_OFFLINE,
    userId: string,
  ) => {
    try {
      await options.eventLog.publish(
        createMessage({
          event,
          channel: Channels.USER_ACTIVITY,
          data: { userId },
          userId,
          priority: Priority.LOW,
        }),
      );
    } catch (err) {
      log.warn({ err, event }, 'publishing presence failed');
    }
  };
  const presence = (event: typeof Events.USER_ONLINE | typeof Events.USER_OFFLINE, userId: string) =>
    track(publishPresence(event, userId));
  const release = (userId: string, connectionId: string) =>
    track(
      connections.release(userId, connectionId).then(
        (left) => (left === 0 ? publishPresence(Events.USER_OFFLINE, userId) : undefined),
        (err: unknown) => log.warn({ err }, 'releasing a connection place failed; its lease will expire'),
      ),
    );
  // A gateway that died cannot say its users went offline: whichever live gateway first finds a
  // user's last lease expired does (once across all of them).
  connections.onExpired((userId) => presence(Events.USER_OFFLINE, userId));

  // One timer pings every socket (a timer per socket is memory every idle socket pays for), a
  // tenth of them each tenth of the interval: pinging all at once (and then reading all their
  // pongs) would stall every delivery for a while each interval, longer the more sockets held.
  let heartbeatTick = 0;
  let nextHeartbeatSlot = 0;
  const heartbeat = setInterval(
    () => {
      const slot = heartbeatTick++ % HEARTBEAT_SLOTS;
      for (const session of sessions) if (session.heartbeatSlot === slot) session.ping();
    },
    Math.max(1, Math.floor(limits.heartbeatMs / HEARTBEAT_SLOTS)),
  );

  // Revoking an API key or signing a session out must end its sockets: each gateway asks which of
  // the credentials its sockets hold are still active.
  const credentialChecks = [
    {
      store: options.apiKeys,
      of: (s: Session) => s.apiKeyId,
      what: 'API keys',
      reason: 'credential revoked',
    },
    { store: options.sessions, of: (s: Session) => s.sessionId, what: 'sessions', reason: 'session ended' },
  ];
  const revalidate = () => {
    for (const { store, of, what, reason } of credentialChecks) {
      if (!store) continue;
      const held = [...sessions].filter((s) => of(s) !== undefined);
      if (held.length === 0) continue;
      store.activeIds([...new Set(held.map((s) => of(s)!))]).then(
        (active) => {
          for (const session of held) {
            if (active.has(of(session)!)) continue;
            metrics.abuseDisconnects.inc({ reason: 'revoked' });
            session.close(CloseCodes.REVOKED, reason);
          }
        },
        (err: unknown) => log.warn({ err }, `checking ${what} failed; retrying on the next tick`),
      );
    }
  };
  const revalidation =
    options.apiKeys || options.sessions ? setInterval(revalidate, options.revalidateMs ?? 15_000) : undefined;

  await app.register(websocket, {
    options: { maxPayload: limits.maxFrameBytes },
    preClose: async () => {
      closing = true;
      clearInterval(revalidation);
      clearInterval(heartbeat);
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, shutdownGraceMs)));
      // Upgrades still being admitted finish (refused now), and admitted ones open or go away, so
      // no place is taken and no presence published after shutdown.
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
      if (opening > 0) {
        await Promise.race([new Promise<void>((resolve) => (onOpeningSettled = resolve)), grace]);
      }
      const closed = [...app.websocketServer.clients].map(
        (client) =>
          new Promise<void>((resolve) => {
            client.once('close', () => resolve());
            // 1001 "going away": clients reconnect, to another gateway behind the load balancer.
            client.close(1001, 'server shutting down');
          }),
      );
      await Promise.race([Promise.all(closed), grace]);
      clearTimeout(timer);
      for (const client of app.websocketServer.clients) client.terminate();
      await new Promise<void>((resolve) => app.websocketServer.close(() => resolve()));
      await hub.close();
      // No more renewals or sweeps; places are still released (close stops timers, not the store).
      await connections.close();
      // Closing sockets released their places, which may publish user:offline: wait for all of it.
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    },
  });

  async function authenticateUpgrade(request: FastifyRequest): Promise<AuthUser | undefined> {
    const query = request.query as Record<string, unknown>;
    if (typeof query.ticket === 'string') {
      const subject = await options.tickets?.consume(query.ticket);
      return subject
        ? {
            id: subject.userId,
            email: subject.email,
            role: subject.role,
            apiKeyId: subject.apiKeyId,
            sessionId: subject.sessionId,
          }
        : undefined;
    }
    return options.authenticate(
      bearer(request.headers.authorization) ?? (typeof query.token === 'string' ? query.token : undefined),
    );
  }

  app.get(
    '/ws',
    {
      websocket: true,
      logSerializers: { req: serializeRequest },
      // Runs before the upgrade, so a refused client gets a plain HTTP answer and never a socket.
      preValidation: (request, reply) => {
        const admission = admit(request, reply);
        track(admission.then(noop, noop));
        return admission;
      },
    },
    (socket, request) => {
      const entry = admitted.get(request);
      if (!entry) {
        socket.close(1013, 'connection limit reached');
        return;
      }
      admitted.delete(request);
      settleOpening();
      const { user, connectionId, onAbort, response } = entry;
      // Idle sockets are what a gateway holds most of: let go of everything the upgrade request
      // made (Fastify's request and reply, the raw request and response, their logger) once the
      // socket is open. @fastify/websocket's error listener would keep them for the socket's life:
      // the session replaces it (Session.start), as does the refusal below.
      request.raw.off('close', onAbort);
      response.detachSocket(request.raw.socket);
      if (closing) {
        socket.removeAllListeners('error');
        socket.on('error', () => socket.terminate());
        socket.close(1001, 'server shutting down');
        release(user.id, connectionId);
        return;
      }
      const session = new Session({
        id: connectionId,
        user: { id: user.id, role: user.role },
        apiKeyId: user.apiKeyId,
        sessionId: user.sessionId,
        socket,
        context,
        heartbeatSlot: nextHeartbeatSlot++ % HEARTBEAT_SLOTS,
      });
      sessions.add(session);
      session.start();
    },
  );

  async function admit(request: FastifyRequest, reply: FastifyReply) {
    if (closing) return shuttingDown(reply);
    const origin = request.headers.origin;
    if (allowedOrigins.size > 0 && origin !== undefined && !allowedOrigins.has(origin)) {
      metrics.connectionsRefused.inc({ reason: 'origin' });
      return problem(reply, 403, 'Forbidden', 'FORBIDDEN', 'origin not allowed');
    }
    const user = await authenticateUpgrade(request);
    if (closing) return shuttingDown(reply);
    if (!user) {
      metrics.connectionsRefused.inc({ reason: 'unauthorized' });
      reply.header('www-authenticate', 'Bearer');
      return problem(reply, 401, 'Unauthorized', 'UNAUTHORIZED', 'missing or invalid token');
    }
    if (sessions.size + opening >= limits.maxConnections) {
      metrics.connectionsRefused.inc({ reason: 'gateway_full' });
      return problem(reply, 503, 'Service Unavailable', 'LIMIT', 'this gateway is at its connection limit');
    }
    const connectionId = randomUUID();
    const count = await connections.acquire(user.id, connectionId, limits.maxConnectionsPerUser);
    if (count === null) {
      metrics.connectionsRefused.inc({ reason: 'user_limit' });
      return problem(reply, 429, 'Too Many Requests', 'LIMIT', 'too many open connections for this user');
    }
    if (closing) {
      // Nobody was told this user came online through this socket, so nobody is told it left.
      if (count === 1) track(connections.release(user.id, connectionId).then(noop, noop));
      else release(user.id, connectionId);
      return shuttingDown(reply);
    }
    if (count === 1) presence(Events.USER_ONLINE, user.id);
    opening++;
    // The socket may never open (the peer went away mid-upgrade): its place is given back.
    const onAbort = () => {
      if (!admitted.has(request)) return;
      admitted.delete(request);
      settleOpening();
      release(user.id, connectionId);
    };
    admitted.set(request, { user, connectionId, onAbort, response: reply.raw });
    request.raw.once('close', onAbort);
  }

  app.get('/gateway/channels', async (request, reply) => {
    const user = await options.authenticate(bearer(request.headers.authorization));
    if (!user) {
      reply.header('www-authenticate', 'Bearer');
      return problem(reply, 401, 'Unauthorized', 'UNAUTHORIZED', 'missing or invalid token');
    }
    if (user.role !== 'admin') return problem(reply, 403, 'Forbidden', 'FORBIDDEN', 'admins only');
    const channels = Object.fromEntries([...hub.occupancy()].filter(([, n]) => n > 0).sort());
    return { gatewayId, connections: sessions.size, channels };
  });
};

// Not encapsulated (what fastify-plugin does): @fastify/websocket's hooks must see every upgrade,
// including ones to unknown paths, or their sockets stay open and block `app.close()`.
Object.assign(gatewayPlugin, { [Symbol.for('skip-override')]: true });
