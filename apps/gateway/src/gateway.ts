import { randomUUID } from 'node:crypto';
import websocket from '@fastify/websocket';
import type { WebSocketServer } from 'ws';
import type { AuthUser } from '@crucible/runtime';
import type { TestsRepository, WorkspaceMembersRepository } from '@crucible/db';
import { MemoryAckStore, MemoryConnectionRegistry } from '@crucible/backplane';
import { SHARE_REVOKED_TOPIC } from '@crucible/contracts';
import type { AckStore, ConnectionRegistry, EventLog, PubSub, TicketStore } from '@crucible/contracts';
import { redactUrl } from '@crucible/runtime';
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Registry } from 'prom-client';
import { CoalescingAckStore } from './acks.js';
import { Admission } from './admission.js';
import { Broker } from './broker.js';
import { createChannelAccess } from './channel-access.js';
import type { ShareLookup } from './channel-access.js';
import { DEFAULT_LIMITS } from './env.js';
import type { GatewayLimits } from './env.js';
import { Heartbeat } from './heartbeat.js';
import { bearer, problem } from './http.js';
import { Hub } from './hub.js';
import { createGatewayMetrics } from './metrics.js';
import { Presence } from './presence.js';
import { startRevalidation } from './revalidation.js';
import { Session } from './session.js';
import type { SessionContext } from './session.js';

export interface GatewayPluginOptions {
  /** Resolves a bearer credential (session token or API key) to its user. */
  authenticate(credential: string | undefined): Promise<AuthUser | undefined>;
  /** Test ownership for channel authorisation. */
  tests: Pick<TestsRepository, 'ownerOf'>;
  /** Workspace memberships for channel authorisation, re-checked every `revalidateMs`. */
  members: Pick<WorkspaceMembersRepository, 'roleOf' | 'activePairs'>;
  /** History of every channel (for `since` recovery and gap filling); presence is published through it. */
  eventLog: Pick<EventLog, 'recover' | 'publish'>;
  /**
   * The bus that carries channels' live messages on `channelTopic(channel)`: `RedisPubSub` in
   * distributed mode, `MemoryPubSub` embedded. The caller owns it and closes it after the gateway.
   */
  pubsub: PubSub;
  /** Where `?ticket=` credentials (from `POST /api/auth/ws-ticket`) are consumed; without it tickets are refused. */
  tickets?: TicketStore;
  /**
   * Live share links (`TestSharesRepository` satisfies it): `shared-tests-{shareId}` and anonymous
   * `?share=` sockets; without it share channels are refused.
   */
  shares?: ShareLookup;
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

/** The bound of a clean shutdown: `over` resolves after `ms`, or never once cancelled. */
function graceOf(ms: number): { over: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const over = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return { over, cancel: () => clearTimeout(timer) };
}

/**
 * Closes every socket with 1001 "going away" (clients reconnect, to another gateway behind the
 * load balancer), drops those that have not finished the close handshake when the grace is over,
 * and closes the server.
 */
async function closeSockets(server: WebSocketServer, grace: ReturnType<typeof graceOf>): Promise<void> {
  const closed = [...server.clients].map(
    (client) =>
      new Promise<void>((resolve) => {
        client.once('close', () => resolve());
        client.close(1001, 'server shutting down');
      }),
  );
  await Promise.race([Promise.all(closed), grace.over]);
  grace.cancel();
  for (const client of server.clients) client.terminate();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** `GET /gateway/channels` (admin): this gateway's connections and local readers per channel. */
function occupancyRoute(
  app: FastifyInstance,
  authenticate: GatewayPluginOptions['authenticate'],
  gatewayId: string,
  hub: Hub,
  sessions: ReadonlySet<Session>,
): void {
  app.get('/gateway/channels', async (request, reply) => {
    const user = await authenticate(bearer(request.headers.authorization));
    if (!user) {
      reply.header('www-authenticate', 'Bearer');
      return problem(reply, 401, 'Unauthorized', 'UNAUTHORIZED', 'missing or invalid token');
    }
    if (user.role !== 'admin') return problem(reply, 403, 'Forbidden', 'FORBIDDEN', 'admins only');
    const channels = Object.fromEntries([...hub.occupancy()].filter(([, n]) => n > 0).sort());
    return { gatewayId, connections: sessions.size, channels };
  });
}

/**
 * The WebSocket gateway at `GET /ws` (DESIGN.md, "WebSocket protocol"): admits the upgrade
 * (`admission.ts`), authorises each channel and fans bus messages out to the sockets (`hub.ts`,
 * `broker.ts`, `session.ts`), says who is online (`presence.ts`), pings (`heartbeat.ts`) and
 * closes sockets whose credential was revoked (`revalidation.ts`). Also serves
 * `GET /gateway/channels` (admin): this gateway's connections and channel occupancy.
 */
export const gatewayPlugin: FastifyPluginAsync<GatewayPluginOptions> = async (app, options) => {
  const limits: GatewayLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const log = options.logger ?? app.log;
  const shutdownGraceMs = options.shutdownGraceMs ?? 5_000;
  const connections = options.connections ?? new MemoryConnectionRegistry();
  const gatewayId = randomUUID();
  const sessions = new Set<Session>();

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
  const presence = new Presence(connections, options.eventLog, log);
  const context: SessionContext = {
    hub,
    eventLog: options.eventLog,
    authorize: createChannelAccess(options.tests, options.members, options.shares),
    acks: new CoalescingAckStore(options.acks ?? new MemoryAckStore(), (err) =>
      log.warn({ err }, 'recording expected or received acks failed'),
    ),
    limits,
    metrics,
    log,
    // One function for every session, not a closure per socket.
    onClose: (closed) => {
      sessions.delete(closed);
      presence.release(closed.user.id, closed.id);
    },
  };
  const admission = new Admission({
    authenticate: (credential) => options.authenticate(credential),
    tickets: options.tickets,
    shares: options.shares,
    allowedOrigins: new Set(options.allowedOrigins ?? []),
    limits,
    metrics,
    connections,
    presence,
    openSockets: () => sessions.size,
  });
  const heartbeat = new Heartbeat(sessions, limits.heartbeatMs);
  const stopRevalidation = startRevalidation({
    apiKeys: options.apiKeys,
    signIns: options.sessions,
    memberships: options.members,
    sessions,
    metrics,
    log,
    intervalMs: options.revalidateMs ?? 15_000,
  });

  // A revoked share's channel goes from every socket at once, on every gateway.
  const onShareRevoked = (hash: string) => {
    for (const session of sessions) session.dropShare(hash);
  };
  await options.pubsub.subscribe(SHARE_REVOKED_TOPIC, onShareRevoked);

  await app.register(websocket, {
    options: { maxPayload: limits.maxFrameBytes },
    preClose: async () => {
      admission.close();
      await options.pubsub.unsubscribe(SHARE_REVOKED_TOPIC, onShareRevoked);
      stopRevalidation();
      heartbeat.stop();
      const grace = graceOf(shutdownGraceMs);
      // Upgrades still being admitted finish (refused now), and admitted ones open or go away, so
      // no place is taken and no presence published after shutdown.
      await presence.settled();
      await admission.openingSettled(grace.over);
      await closeSockets(app.websocketServer, grace);
      await hub.close();
      // No more renewals or sweeps; places are still released (close stops timers, not the store).
      await connections.close();
      // Closing sockets released their places, which may publish user:offline: wait for all of it.
      await presence.settled();
    },
  });

  app.get(
    '/ws',
    { websocket: true, logSerializers: { req: serializeRequest }, preValidation: admission.preValidation },
    (socket, request) => {
      const admitted = admission.opened(request, socket);
      if (!admitted) return;
      const { user, connectionId } = admitted;
      const session = new Session({
        id: connectionId,
        user: {
          id: user.id,
          role: user.role,
          ...(user.apiKeyAccess ? { apiKeyAccess: user.apiKeyAccess } : {}),
          ...(user.share ? { share: user.share } : {}),
        },
        apiKeyId: user.apiKeyId,
        sessionId: user.sessionId,
        socket,
        context,
        heartbeatSlot: heartbeat.nextSlot(),
      });
      sessions.add(session);
      session.start();
    },
  );

  occupancyRoute(app, (credential) => options.authenticate(credential), gatewayId, hub, sessions);
};

// Not encapsulated (what fastify-plugin does): @fastify/websocket's hooks must see every upgrade,
// including ones to unknown paths, or their sockets stay open and block `app.close()`.
Object.assign(gatewayPlugin, { [Symbol.for('skip-override')]: true });
