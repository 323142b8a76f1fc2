import {
  ApiKeysRepository,
  SessionsRepository,
  TestsRepository,
  TestSharesRepository,
  WorkspaceMembersRepository,
} from '@crucible/db';
import type { Db } from '@crucible/db';
import type { Backplane } from '@crucible/backplane';
import { createAuthenticator, createCredentialUses } from '@crucible/runtime';
import type { TokenService } from '@crucible/runtime';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { GatewaySettings } from './env.js';
import { gatewayPlugin } from './gateway.js';

/** What the process mounting the gateway provides. */
export interface GatewayServices {
  db: Db;
  backplane: Pick<Backplane, 'eventLog' | 'pubsub' | 'tickets' | 'connections' | 'acks'>;
  /** Verifies session tokens: the api's, signed with the same `JWT_SECRET`. */
  tokens: TokenService;
  /** Where the gateway's series are registered (the process's `/metrics`). */
  metrics: Registry;
  /** How long sockets get to finish their close handshake at shutdown. */
  shutdownGraceMs: number;
}

/**
 * Mounts the gateway at `/ws` on `app` as every mode runs it (`main.ts` on its own server,
 * all-in-one beside the api): its credentials, repositories and limits built from its settings,
 * so a variable means the same in both. Credential uses are written when `app` closes.
 */
export async function composeGateway(
  app: FastifyInstance,
  services: GatewayServices,
  settings: GatewaySettings,
): Promise<void> {
  const { db, backplane } = services;
  const apiKeys = new ApiKeysRepository(db.kysely);
  const sessions = new SessionsRepository(db.kysely);
  // An upgrade is a use of its key or session, noted as the api notes requests.
  const uses = createCredentialUses({
    apiKeys,
    sessions,
    onError: (err) => app.log.warn({ err }, 'recording credential use failed'),
  });
  app.addHook('onClose', async () => uses.flush());
  await app.register(gatewayPlugin, {
    authenticate: createAuthenticator({
      apiKeys,
      sessions,
      uses,
      tokens: services.tokens,
      // As the api does (DESIGN.md, "Auth"): a user's sockets opened together read the row once, and
      // upgrades stop queueing on the database (held that long, their garbage outlives young collections).
      cacheTtlMs: 5_000,
    }),
    tests: new TestsRepository(db.kysely),
    members: new WorkspaceMembersRepository(db.kysely),
    shares: new TestSharesRepository(db.kysely),
    eventLog: backplane.eventLog,
    pubsub: backplane.pubsub,
    tickets: backplane.tickets,
    connections: backplane.connections,
    acks: backplane.acks,
    apiKeys,
    sessions,
    metrics: services.metrics,
    limits: settings.limits,
    allowedOrigins: settings.allowedOrigins,
    shutdownGraceMs: services.shutdownGraceMs,
    revalidateMs: settings.revalidateMs,
  });
}
