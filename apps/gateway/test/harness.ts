import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import {
  ApiKeysRepository,
  WorkspaceMembersRepository,
  WorkspacesRepository,
  SessionsRepository,
  TestsRepository,
  UsersRepository,
  createDb,
  migrateToLatest,
} from '@crucible/db';
import type { Db, User } from '@crucible/db';
import { createTestDatabase } from '@crucible/db/testing';
import {
  TEST_REDIS_URL,
  deleteRedisPrefix,
  startTestEmbeddedPostgres,
  testBackplaneMode,
} from '@crucible/backplane/testing';
import {
  MemoryEventLog,
  MemoryTicketStore,
  RedisAckStore,
  RedisConnectionRegistry,
  RedisEventLog,
  RedisPubSub,
  RedisTicketStore,
  channelKeys,
  createEmbeddedBackplane,
  createRedis,
  createRedisBackplane,
} from '@crucible/backplane';
import type { Backplane, EventLogOptions, TicketStoreOptions } from '@crucible/backplane';
import { Events, Priority, channelTopic, createMessage } from '@crucible/contracts';
import type {
  ConnectionRegistry,
  EventLog,
  Events as EventName,
  PubSub,
  PubSubHandler,
  TicketStore,
} from '@crucible/contracts';
import { createAuthenticator, createTokenService } from '@crucible/runtime';
import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect } from 'vitest';
import { gatewayPlugin, serializeRequest } from '../src/index.js';
import type { GatewayLimits, GatewayPluginOptions } from '../src/index.js';
import { TestClient } from './ws-client.js';

export const REDIS_URL = TEST_REDIS_URL;
/** The secret tokens are signed with (a gateway process a test starts gets it as JWT_SECRET). */
export const JWT_SECRET = 'gateway-test-secret-that-is-long-enough-0123456789';
export const tokens = createTokenService(JWT_SECRET);

/**
 * The mode this run tests (the vitest project sets it). Distributed: gateways on Redis, each with a
 * subscriber connection of its own, as separate processes. Embedded: the gateway on the in-process
 * bus, history, tickets and registries of the embedded backplane, as `pnpm start` mounts it, and
 * the database on the embedded PostgreSQL.
 */
export const mode = testBackplaneMode();

/** Suites about many gateways sharing Redis: embedded mode is one process with one gateway. */
export const distributedOnly = describe.skipIf(mode === 'embedded');

/**
 * The embedded bus as the gateway sees it, with the number of handlers per topic on display: what
 * Redis's PUBSUB NUMSUB shows in distributed mode.
 */
class ObservedPubSub implements PubSub {
  readonly handlers = new Map<string, Set<PubSubHandler>>();
  constructor(readonly inner: PubSub) {}
  publish(topic: string, payload: string) {
    return this.inner.publish(topic, payload);
  }
  async subscribe(topic: string, handler: PubSubHandler) {
    let set = this.handlers.get(topic);
    if (!set) this.handlers.set(topic, (set = new Set()));
    set.add(handler);
    await this.inner.subscribe(topic, handler);
  }
  async unsubscribe(topic: string, handler: PubSubHandler) {
    this.handlers.get(topic)?.delete(handler);
    await this.inner.unsubscribe(topic, handler);
  }
  close() {
    return this.inner.close();
  }
}

/** Everything a gateway test file shares; reset per test where it says so. */
export const h = {
  /** The file's database (for a gateway process a test starts). */
  databaseUrl: '',
  db: undefined as unknown as Db,
  tests: undefined as unknown as TestsRepository,
  members: undefined as unknown as WorkspaceMembersRepository,
  workspaces: undefined as unknown as WorkspacesRepository,
  apiKeys: undefined as unknown as ApiKeysRepository,
  sessions: undefined as unknown as SessionsRepository,
  admin: undefined as unknown as User,
  owner: undefined as unknown as User,
  stranger: undefined as unknown as User,
  /** Per test: the deployment's backplane (in distributed mode, the API's side of Redis). */
  backplane: undefined as unknown as Backplane,
  /** Per test (distributed mode; empty in embedded mode). */
  prefix: '',
  /** Per test, distributed mode only: a producer connection, to look at Redis directly. */
  redis: undefined as unknown as Redis,
  /** Per test. */
  eventLog: undefined as unknown as EventLog,
  /** Per test. */
  tickets: undefined as unknown as TicketStore,
  /** Per test, embedded mode: the bus the gateway is given. */
  bus: undefined as unknown as ObservedPubSub,
  /**
   * An event log with other bounds (`maxLen`, `ttlMs`) on the same bus: on the same Redis keys in
   * distributed mode, a history of its own in embedded mode. A test uses it throughout.
   */
  eventLogWith(options: Omit<EventLogOptions, 'prefix'>): EventLog {
    return mode === 'embedded'
      ? new MemoryEventLog(h.backplane.pubsub, options)
      : new RedisEventLog(h.redis, { prefix: h.prefix, ...options });
  },
  /** A ticket store with another `ttlMs` (on the same Redis keys in distributed mode). */
  ticketsWith(options: TicketStoreOptions): TicketStore {
    return mode === 'embedded'
      ? new MemoryTicketStore(options)
      : new RedisTicketStore(h.redis, { prefix: h.prefix, ...options });
  },
  /** Whether the user holds no place in the connection registry (the per-user limit's count). */
  async holdsNoPlace(userId: string): Promise<boolean> {
    if (mode === 'distributed') return (await h.redis.exists(`${h.prefix}:conns:${userId}`)) === 0;
    // The one process's registry: a place is free for a limit of one only if none is held.
    const held = await h.backplane.connections.acquire(userId, 'probe', 1);
    if (held !== null) await h.backplane.connections.release(userId, 'probe');
    return held === 1;
  },
  /** How many subscriptions the bus holds for a channel, across every gateway. */
  async busSubscribers(channel: string): Promise<number> {
    if (mode === 'embedded') return h.bus.handlers.get(channelTopic(channel))?.size ?? 0;
    const topic = channelKeys(h.prefix, channel).pubsub;
    return Number(((await h.redis.pubsub('NUMSUB', topic)) as [string, number])[1]);
  },
};

export interface GatewayHandle {
  app: FastifyInstance;
  /** `ws://…/ws` */
  url: string;
  /** `http://…` */
  httpUrl: string;
  /** Distributed mode only: the gateway's own subscriber connection. */
  subscriber: Redis;
  /** Distributed mode only: Redis's id of the subscriber connection (`CLIENT KILL ID` it to cut the bus). */
  subscriberClientId: number;
  /** Resolves once what was published before the call has been handed to this gateway by the bus. */
  busDrained(): Promise<void>;
  logLines: string[];
  close(): Promise<void>;
}

const gateways: GatewayHandle[] = [];
const clients: TestClient[] = [];

function ready(client: Redis): Promise<void> {
  return client.status === 'ready'
    ? Promise.resolve()
    : new Promise((resolve) => client.once('ready', resolve));
}

/**
 * Registers the hooks: one database per file, one backplane (and Redis prefix) per test, nothing
 * left open after each.
 */
export function useHarness(): void {
  let database: { url: string; close(): Promise<void> };
  beforeAll(async () => {
    if (mode === 'embedded') {
      database = await startTestEmbeddedPostgres();
    } else {
      const created = await createTestDatabase();
      database = { url: created.url, close: () => created.drop() };
    }
    h.databaseUrl = database.url;
    h.db = createDb(database.url);
    await migrateToLatest(h.db.kysely);
    h.tests = new TestsRepository(h.db.kysely);
    h.members = new WorkspaceMembersRepository(h.db.kysely);
    h.workspaces = new WorkspacesRepository(h.db.kysely);
    h.apiKeys = new ApiKeysRepository(h.db.kysely);
    h.sessions = new SessionsRepository(h.db.kysely);
    const users = new UsersRepository(h.db.kysely);
    // The first user of an empty database is the admin.
    h.admin = (await users.create('admin@example.test', 'unused-hash'))!;
    h.owner = (await users.create('owner@example.test', 'unused-hash'))!;
    h.stranger = (await users.create('stranger@example.test', 'unused-hash'))!;
    sessionIds.clear();
    for (const user of [h.admin, h.owner, h.stranger]) {
      sessionIds.set(user.id, (await h.sessions.create(user.id, { userAgent: 'gateway-test' })).id);
    }
  });

  afterAll(async () => {
    await h.db?.close();
    await database?.close();
  });

  beforeEach(async () => {
    if (mode === 'embedded') {
      h.prefix = '';
      h.backplane = await createEmbeddedBackplane({ databaseUrl: database.url });
      h.bus = new ObservedPubSub(h.backplane.pubsub);
    } else {
      h.prefix = `t-${randomUUID()}`;
      h.redis = createRedis(REDIS_URL, 'producer');
      await ready(h.redis);
      h.backplane = createRedisBackplane({ url: REDIS_URL, prefix: h.prefix });
      await h.backplane.waitUntilReady();
    }
    h.eventLog = h.backplane.eventLog;
    h.tickets = h.backplane.tickets;
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(gateways.splice(0).map((g) => g.close()));
    await h.backplane.close();
    if (mode === 'distributed') {
      await deleteRedisPrefix(h.redis, h.prefix);
      await h.redis.quit();
    }
  });
}

export type StartOptions = Omit<Partial<GatewayPluginOptions>, 'limits'> & {
  limits?: Partial<GatewayLimits>;
};

/**
 * A gateway on a free port, closed after the test. Distributed: Redis-backed stores and a
 * subscriber connection of its own, as a gateway process has. Embedded: the backplane's bus and
 * stores, as `pnpm start` mounts it.
 */
export async function startGateway(options: StartOptions = {}): Promise<GatewayHandle> {
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString());
      done();
    },
  });
  const logger: FastifyBaseLogger = pino({ level: 'info', serializers: { req: serializeRequest } }, sink);
  const app = Fastify({ loggerInstance: logger });
  let subscriber: Redis | undefined;
  let stores: Pick<GatewayPluginOptions, 'pubsub' | 'acks'> & { connections: ConnectionRegistry };
  if (mode === 'embedded') {
    stores = { pubsub: h.bus, connections: h.backplane.connections, acks: h.backplane.acks };
  } else {
    subscriber = createRedis(REDIS_URL, 'subscriber');
    await ready(subscriber);
    stores = {
      pubsub: new RedisPubSub({ subscriber, publisher: h.redis, prefix: h.prefix }),
      connections: new RedisConnectionRegistry(h.redis, { prefix: h.prefix }),
      acks: new RedisAckStore(h.redis, { prefix: h.prefix }),
    };
  }
  const subscriberClientId = subscriber ? Number(await subscriber.client('ID')) : -1;
  await app.register(gatewayPlugin, {
    authenticate: createAuthenticator({ apiKeys: h.apiKeys, sessions: h.sessions, tokens }),
    tests: h.tests,
    members: h.members,
    eventLog: h.eventLog,
    tickets: h.tickets,
    apiKeys: h.apiKeys,
    sessions: h.sessions,
    ...stores,
    unsubscribeDelayMs: 0,
    ...options,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  let closed: Promise<void> | undefined;
  const handle: GatewayHandle = {
    app,
    url: `ws://127.0.0.1:${address.port}/ws`,
    httpUrl: `http://127.0.0.1:${address.port}`,
    get subscriber(): Redis {
      if (!subscriber) throw new Error('embedded mode has no Redis subscriber');
      return subscriber;
    },
    subscriberClientId,
    // Redis answers one connection in order: once PONG is back, what was published before is
    // dispatched. The in-process bus delivers on a microtask.
    busDrained: async () => {
      if (subscriber) await subscriber.ping();
      else await new Promise((resolve) => setImmediate(resolve));
    },
    logLines,
    close: () =>
      (closed ??= (async () => {
        await app.close();
        // The embedded backplane's stores are the process's: the backplane closes them.
        if (subscriber) {
          await stores.connections.close();
          subscriber.disconnect();
        }
      })()),
  };
  gateways.push(handle);
  return handle;
}

/** The sign-in session of each of the file's users (admin, owner, stranger), made with them. */
const sessionIds = new Map<string, string>();

/** A token of the user's sign-in session (one per user per file; a test that ends it starts another). */
export function tokenOf(user: User): string {
  const sid = sessionIds.get(user.id);
  if (!sid) throw new Error(`${user.email} has no session`);
  return tokens.sign({ sub: user.id, role: user.role, sid });
}

/** Starts another sign-in session of the user; answers its id and token. */
export async function signIn(user: User): Promise<{ sessionId: string; token: string }> {
  const { id } = await h.sessions.create(user.id, { userAgent: 'gateway-test' });
  return { sessionId: id, token: tokens.sign({ sub: user.id, role: user.role, sid: id }) };
}

/** Closed after the test. */
export function track(client: TestClient): TestClient {
  clients.push(client);
  return client;
}

/** Connects as the user and reads the `connection:established` envelope. */
export async function connect(
  gateway: GatewayHandle,
  user: User,
  options: { autoPong?: boolean } = {},
): Promise<TestClient> {
  const client = track(await TestClient.connect(`${gateway.url}?token=${tokenOf(user)}`, options));
  const hello = await client.next();
  expect(hello.event).toBe('connection:established');
  return client;
}

export async function createTest(user: User): Promise<string> {
  const testId = randomUUID();
  await h.tests.create({
    testId,
    testType: 'performance',
    testName: null,
    url: 'https://example.test/',
    config: {},
    priority: 5,
    userId: user.id,
  });
  return testId;
}

export function publish(
  channel: string,
  n: number,
  extra: { userId?: string | null; priority?: Priority; event?: EventName; log?: EventLog } = {},
) {
  return (extra.log ?? h.eventLog).publish(
    createMessage({
      event: extra.event ?? Events.TEST_PROGRESS,
      channel,
      data: { n },
      userId: extra.userId === undefined ? h.owner.id : extra.userId,
      priority: extra.priority ?? Priority.NORMAL,
    }),
  );
}

/** Reads a counter or gauge value from a Prometheus text exposition. */
export function metricValue(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}
