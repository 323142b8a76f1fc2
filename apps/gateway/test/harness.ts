import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import {
  ApiKeysRepository,
  TestsRepository,
  UsersRepository,
  createAuthenticator,
  createDb,
  migrateToLatest,
} from '@crucible/db';
import type { Db, User } from '@crucible/db';
import { createTestDatabase } from '@crucible/db/testing';
import {
  Events,
  Priority,
  RedisAckStore,
  RedisConnectionRegistry,
  RedisEventLog,
  RedisPubSub,
  RedisTicketStore,
  createMessage,
  createRedis,
  createTokenService,
} from '@crucible/shared';
import type { Events as EventName, EventLog } from '@crucible/shared';
import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { gatewayPlugin, serializeRequest } from '../src/index.js';
import type { GatewayLimits, GatewayPluginOptions } from '../src/index.js';
import { TestClient } from './ws-client.js';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** The secret tokens are signed with (a gateway process a test starts gets it as JWT_SECRET). */
export const JWT_SECRET = 'gateway-test-secret-that-is-long-enough-0123456789';
export const tokens = createTokenService(JWT_SECRET);

/** Everything a gateway test file shares; reset per test where it says so. */
export const h = {
  /** The file's database (for a gateway process a test starts). */
  databaseUrl: '',
  db: undefined as unknown as Db,
  tests: undefined as unknown as TestsRepository,
  apiKeys: undefined as unknown as ApiKeysRepository,
  admin: undefined as unknown as User,
  owner: undefined as unknown as User,
  stranger: undefined as unknown as User,
  /** Per test. */
  prefix: '',
  /** Per test: a producer connection. */
  redis: undefined as unknown as Redis,
  /** Per test. */
  eventLog: undefined as unknown as RedisEventLog,
  /** Per test. */
  tickets: undefined as unknown as RedisTicketStore,
};

export interface GatewayHandle {
  app: FastifyInstance;
  /** `ws://…/ws` */
  url: string;
  /** `http://…` */
  httpUrl: string;
  subscriber: Redis;
  /** Redis's id of the subscriber connection (`CLIENT KILL ID` it to cut the bus). */
  subscriberClientId: number;
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

/** Registers the hooks: one database per file, one Redis prefix per test, nothing left open after each. */
export function useHarness(): void {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    database = await createTestDatabase();
    h.databaseUrl = database.url;
    h.db = createDb(database.url);
    await migrateToLatest(h.db.kysely);
    h.tests = new TestsRepository(h.db.kysely);
    h.apiKeys = new ApiKeysRepository(h.db.kysely);
    const users = new UsersRepository(h.db.kysely);
    // The first user of an empty database is the admin.
    h.admin = (await users.create('admin@example.test', 'unused-hash'))!;
    h.owner = (await users.create('owner@example.test', 'unused-hash'))!;
    h.stranger = (await users.create('stranger@example.test', 'unused-hash'))!;
  });

  afterAll(async () => {
    await h.db?.close();
    await database?.drop();
  });

  beforeEach(async () => {
    h.prefix = `t-${randomUUID()}`;
    h.redis = createRedis(REDIS_URL, 'producer');
    await ready(h.redis);
    h.eventLog = new RedisEventLog(h.redis, { prefix: h.prefix });
    h.tickets = new RedisTicketStore(h.redis, { prefix: h.prefix });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(gateways.splice(0).map((g) => g.close()));
    let cursor = '0';
    do {
      const [next, keys] = await h.redis.scan(cursor, 'MATCH', `${h.prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await h.redis.unlink(...keys);
    } while (cursor !== '0');
    await h.redis.quit();
  });
}

export type StartOptions = Omit<Partial<GatewayPluginOptions>, 'limits'> & {
  limits?: Partial<GatewayLimits>;
};

/** A gateway on a free port with Redis-backed stores (as in distributed mode); closed after the test. */
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
  const subscriber = createRedis(REDIS_URL, 'subscriber');
  await ready(subscriber);
  const subscriberClientId = Number(await subscriber.client('ID'));
  const connections = new RedisConnectionRegistry(h.redis, { prefix: h.prefix });
  await app.register(gatewayPlugin, {
    authenticate: createAuthenticator({
      users: new UsersRepository(h.db.kysely),
      apiKeys: h.apiKeys,
      tokens,
    }),
    tests: h.tests,
    eventLog: h.eventLog,
    pubsub: new RedisPubSub({ subscriber, publisher: h.redis, prefix: h.prefix }),
    tickets: h.tickets,
    apiKeys: h.apiKeys,
    connections,
    acks: new RedisAckStore(h.redis, { prefix: h.prefix }),
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
    subscriber,
    subscriberClientId,
    logLines,
    close: () =>
      (closed ??= (async () => {
        await app.close();
        await connections.close();
        subscriber.disconnect();
      })()),
  };
  gateways.push(handle);
  return handle;
}

export function tokenOf(user: User): string {
  return tokens.sign({ sub: user.id, role: user.role });
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
