import { randomUUID } from 'node:crypto';
import websocket from '@fastify/websocket';
import type { AuthUser, TestsRepository } from '@crucible/db';
import type { EventLog, PubSub } from '@crucible/shared';
import type { FastifyBaseLogger, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Broker } from './broker.js';
import { createChannelAccess } from './channel-access.js';
import { DEFAULT_LIMITS } from './env.js';
import type { GatewayLimits } from './env.js';
import { Hub } from './hub.js';
import { Session } from './session.js';

export interface GatewayPluginOptions {
  /** Resolves a bearer credential (session token or API key) to its user. */
  authenticate(credential: string | undefined): Promise<AuthUser | undefined>;
  /** Test ownership for channel authorisation. */
  tests: Pick<TestsRepository, 'ownerOf'>;
  /** History of every channel, for `since` recovery. */
  eventLog: Pick<EventLog, 'recover'>;
  /**
   * The bus that carries channels' live messages on `channelTopic(channel)`: `RedisPubSub` in
   * distributed mode, `MemoryPubSub` embedded. The caller owns it and closes it after the gateway.
   */
  pubsub: PubSub;
  /** Where hub and broker log. @defaultValue the Fastify instance's logger */
  logger?: FastifyBaseLogger;
  /** Overrides of individual limits. @defaultValue DEFAULT_LIMITS (DESIGN.md defaults) */
  limits?: Partial<GatewayLimits>;
  /** Browser origins allowed to connect; empty allows any. @defaultValue [] */
  allowedOrigins?: string[];
  /** How long shutdown waits for clients to finish the close handshake before dropping them. @defaultValue 5000 */
  shutdownGraceMs?: number;
}

const TOKEN_PARAM = /([?&]token=)[^&#]*/gi;

/** The request as Fastify logs it, with the `token` query parameter (a credential) redacted. */
export function serializeRequest(request: FastifyRequest) {
  return {
    method: request.method,
    url: request.url.replace(TOKEN_PARAM, '$1[REDACTED]'),
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

function bearer(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

/**
 * The WebSocket gateway at `GET /ws` (DESIGN.md, "WebSocket protocol"): authenticates the
 * upgrade, authorises each channel, and fans Redis pub/sub messages out to the sockets.
 */
export const gatewayPlugin: FastifyPluginAsync<GatewayPluginOptions> = async (app, options) => {
  const limits: GatewayLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const log = options.logger ?? app.log;
  const allowedOrigins = new Set(options.allowedOrigins ?? []);
  const shutdownGraceMs = options.shutdownGraceMs ?? 5_000;
  const authorize = createChannelAccess(options.tests);
  const broker = new Broker(options.pubsub, (channel, raw) => hub.dispatch(channel, raw));
  const hub = new Hub(broker, log);
  const sessions = new Set<Session>();
  const perUser = new Map<string, number>();
  const authenticated = new WeakMap<FastifyRequest, AuthUser>();

  const isFull = (userId: string) =>
    sessions.size >= limits.maxConnections || (perUser.get(userId) ?? 0) >= limits.maxConnectionsPerUser;

  await app.register(websocket, {
    options: { maxPayload: limits.maxFrameBytes },
    preClose: async () => {
      const closed = [...app.websocketServer.clients].map(
        (client) =>
          new Promise<void>((resolve) => {
            client.once('close', () => resolve());
            // 1001 "going away": clients reconnect, to another gateway behind the load balancer.
            client.close(1001, 'server shutting down');
          }),
      );
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, shutdownGraceMs)));
      await Promise.race([Promise.all(closed), grace]);
      clearTimeout(timer);
      for (const client of app.websocketServer.clients) client.terminate();
      await new Promise<void>((resolve) => app.websocketServer.close(() => resolve()));
      await broker.close();
    },
  });

  app.get(
    '/ws',
    {
      websocket: true,
      logSerializers: { req: serializeRequest },
      // Runs before the upgrade, so a refused client gets a plain HTTP answer and never a socket.
      preValidation: async (request, reply) => {
        const origin = request.headers.origin;
        if (allowedOrigins.size > 0 && origin !== undefined && !allowedOrigins.has(origin)) {
          return problem(reply, 403, 'Forbidden', 'FORBIDDEN', 'origin not allowed');
        }
        const query = request.query as Record<string, unknown>;
        const credential =
          bearer(request.headers.authorization) ??
          (typeof query.token === 'string' ? query.token : undefined);
        const user = await options.authenticate(credential);
        if (!user) {
          reply.header('www-authenticate', 'Bearer');
          return problem(reply, 401, 'Unauthorized', 'UNAUTHORIZED', 'missing or invalid token');
        }
        if (sessions.size >= limits.maxConnections) {
          return problem(
            reply,
            503,
            'Service Unavailable',
            'LIMIT',
            'this gateway is at its connection limit',
          );
        }
        if ((perUser.get(user.id) ?? 0) >= limits.maxConnectionsPerUser) {
          return problem(reply, 429, 'Too Many Requests', 'LIMIT', 'too many open connections for this user');
        }
        authenticated.set(request, user);
      },
    },
    (socket, request) => {
      const user = authenticated.get(request);
      // Checked again here because concurrent upgrades all passed preValidation before any counted.
      if (!user || isFull(user.id)) {
        socket.close(1013, 'connection limit reached');
        return;
      }
      const session = new Session({
        id: randomUUID(),
        user: { id: user.id, role: user.role },
        socket,
        hub,
        eventLog: options.eventLog,
        authorize,
        limits,
        log: request.log,
        onClose: (closed) => {
          sessions.delete(closed);
          const left = (perUser.get(closed.user.id) ?? 1) - 1;
          if (left > 0) perUser.set(closed.user.id, left);
          else perUser.delete(closed.user.id);
        },
      });
      sessions.add(session);
      perUser.set(user.id, (perUser.get(user.id) ?? 0) + 1);
      session.start();
    },
  );
};

// Not encapsulated (what fastify-plugin does): @fastify/websocket's hooks must see every upgrade,
// including ones to unknown paths, or their sockets stay open and block `app.close()`.
Object.assign(gatewayPlugin, { [Symbol.for('skip-override')]: true });
