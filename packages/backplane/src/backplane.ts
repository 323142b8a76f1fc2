import { once } from 'node:events';
import { Queue, Worker, createPostgresBackend, runMigrations, withBackend } from 'bullmq';
import type { IQueueBackend, JobProgress, Processor } from 'bullmq';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { MONITOR_QUEUE_NAME, STRESS_SHARD_QUEUE_NAME, bullPrefix } from '@crucible/contracts';
import type {
  AckStore,
  ConnectionRegistry,
  EventLog,
  PresenceStore,
  PubSub,
  StressConnectionStore,
  StressShardJobData,
  TestJobData,
  TestQueueName,
  TicketStore,
} from '@crucible/contracts';
import { MemoryAckStore } from './memory-ack-store.js';
import { MemoryConnectionRegistry } from './memory-connection-registry.js';
import { MemoryEventLog } from './memory-event-log.js';
import { MemoryPresenceStore } from './memory-presence-store.js';
import { MemoryPubSub } from './memory-pubsub.js';
import { MemoryStressConnectionStore } from './memory-stress-connection-store.js';
import { MemoryTicketStore } from './memory-ticket-store.js';
import { RedisAckStore } from './redis-ack-store.js';
import { RedisConnectionRegistry } from './redis-connection-registry.js';
import { RedisEventLog } from './redis-event-log.js';
import { RedisPresenceStore } from './redis-presence-store.js';
import { RedisPubSub } from './redis-pubsub.js';
import { RedisStressConnectionStore } from './redis-stress-connection-store.js';
import { RedisTicketStore } from './redis-ticket-store.js';
import { createRedis } from './redis.js';
import { TestQueues } from './test-queues.js';
import type { TestQueue } from './test-queues.js';

/**
 * What a cache of this mode stands on (`createBackplaneCache` of @crucible/cache builds one): the
 * backplane knows its connections and bus, the cache package knows caches.
 */
export interface CacheStack {
  /** The Redis tier's connection (the backplane's producer) in distributed mode; none in embedded mode. */
  readonly redis?: Redis;
  /** Keeps every process's memory tier coherent: Redis pub/sub, or the in-process bus. */
  readonly bus: PubSub;
  /** Where the cache's keys go: `{CRUCIBLE_PREFIX}:cache` in distributed mode; none in embedded mode. */
  readonly prefix?: string;
}

/** A consumer of the test queue (or of another queue of ours: `D`), whichever store holds it. */
export type TestQueueWorker<R = unknown, D = TestJobData> = Worker<
  D,
  R,
  string,
  IQueueBackend,
  JobProgress,
  unknown
>;

/** A counter per key that forgets the key `durationSec` after its first point (rate-limiter-flexible). */
export type RateLimiter = RateLimiterAbstract;

export interface RateLimiterOptions {
  /** Names the counters in the store (`{prefix}:throttle:{name}:{key}` in Redis). */
  name: string;
  /** Points a key may consume before `consume` rejects. */
  points: number;
  /** Seconds from a key's first point until it is forgotten (a fixed window). */
  durationSec: number;
}

/** The queue of stress-test shards, whichever store holds it. */
export type ShardQueue = Queue<
  StressShardJobData,
  unknown,
  string,
  StressShardJobData,
  unknown,
  string,
  IQueueBackend,
  unknown
>;

export interface WorkerOptions {
  /** The queue consumed. */
  queue: TestQueueName | typeof MONITOR_QUEUE_NAME | typeof STRESS_SHARD_QUEUE_NAME;
  /** Jobs run at once. */
  concurrency: number;
  /** A job whose worker has not renewed its lock for this long is presumed lost. @defaultValue BullMQ's 30 s */
  lockDuration?: number;
  /** How often stalled jobs are looked for. @defaultValue BullMQ's 30 s */
  stalledInterval?: number;
  /** Times a job may stall before it fails. @defaultValue BullMQ's 1 */
  maxStalledCount?: number;
}

/**
 * The services behind the apps, built once per process for its mode: the queue, the event log,
 * the bus and their readiness checks. The apps take a Backplane and never know which one it is.
 */
export interface Backplane {
  /** `distributed`: Redis (BullMQ, pub/sub, history). `embedded`: BullMQ on PostgreSQL, in-process bus and history. */
  readonly mode: 'distributed' | 'embedded';
  /** The producer side of the test queues: each job goes to its type's queue. */
  readonly queue: TestQueues;
  /** The monitor runs' own queue (DESIGN.md, "Monitors"): a backlog of other tests never delays them. */
  readonly monitorQueue: TestQueue;
  /** Sharded stress tests' shard jobs (DESIGN.md, "Distributed stress tests"). */
  readonly shardQueue: ShardQueue;
  /** Starts a consumer of one queue; the caller closes it before the backplane. */
  createWorker<R, D = TestJobData>(processor: Processor<D, R>, options: WorkerOptions): TestQueueWorker<R, D>;
  /** The one way apps publish channel messages. */
  readonly eventLog: EventLog;
  /**
   * True when the event log (and the cache) write on the queue's own connection, and send what a
   * publish call holds before the call returns: a job added after that call is run after the
   * messages, so an announcement need not wait for its answer before the add (distributed).
   * False where that order needs the answer (embedded: BullMQ on PostgreSQL, in-process bus).
   */
  readonly eventLogOrderedWithQueue: boolean;
  /** Control messages and the live side of channels. */
  readonly pubsub: PubSub;
  /** Live workers (capacity, running tests) and the reconciler's pass lock. */
  readonly presence: PresenceStore;
  /** What a cache of this mode is built on (memory over Redis with the bus, or memory on the in-process bus). */
  readonly cacheStack: CacheStack;
  /** Single-use WebSocket tickets: issued by the api, consumed by the gateway. */
  readonly tickets: TicketStore;
  /**
   * Counters shared by every process of the deployment (throttling sign-ins, registrations):
   * Redis, with one process's memory standing in while Redis is unreachable (distributed), or
   * the process's memory (embedded).
   */
  createRateLimiter(options: RateLimiterOptions): RateLimiter;
  /** Open sockets per user across every gateway. */
  readonly connections: ConnectionRegistry;
  /** CRITICAL/HIGH messages sent and not yet acknowledged, for redelivery on resume. */
  readonly acks: AckStore;
  /** Connections each owner's running stress tests hold, and why queued ones wait for them. */
  readonly stressConnections: StressConnectionStore;
  /**
   * Stress tests running against each target host (one hold per test, the host its resolved
   * address), and why queued ones wait for a host's slot: the same holds with leases, apart.
   */
  readonly targetHosts: StressConnectionStore;
  /**
   * Running slots of each workspace's running quota (one hold per running test, the owner
   * `{workspaceId}:running`), and why queued tests wait for one: the same holds with leases, apart
   * from the stress connections', so that taking a slot never drops a stress test's waiting note.
   */
  readonly runningSlots: StressConnectionStore;
  /** Readiness of the backing services, by name (`/health/ready`). */
  readonly checks: Record<string, () => Promise<boolean>>;
  /** Resolves once the services answer (a process may start before Redis does). */
  waitUntilReady(): Promise<void>;
  close(): Promise<void>;
}

export interface RedisBackplaneOptions {
  url: string;
  /** Key prefix of the deployment (`CRUCIBLE_PREFIX`). */
  prefix: string;
  /** How long a socket's place outlives a gateway that stopped renewing it. @defaultValue 30000 */
  connectionLeaseMs?: number;
  onError?: (err: Error) => void;
}

/** Distributed mode: BullMQ, pub/sub and channel history in Redis. */
export function createRedisBackplane(options: RedisBackplaneOptions): Backplane {
  const onError = options.onError ?? (() => {});
  const producer = createRedis(options.url, 'producer', onError);
  const pubsub = new RedisPubSub({
    subscriber: createRedis(options.url, 'subscriber', onError),
    publisher: producer,
    prefix: options.prefix,
  });
  // Each queue is made on first use (a gateway never enqueues), on the producer's connection: the
  // event log's writes and the adds go out in the order they are made.
  const queue = new TestQueues((name) => {
    const made = new Queue<TestJobData>(name, { connection: producer, prefix: bullPrefix(options.prefix) });
    made.on('error', onError);
    return made as TestQueue;
  });
  let monitorQueue: TestQueue | undefined;
  let shardQueue: ShardQueue | undefined;
  // Workers block on their own connection, which waits for Redis instead of failing fast.
  let workerConnection: Redis | undefined;
  return {
    mode: 'distributed',
    eventLogOrderedWithQueue: true,
    queue,
    get monitorQueue() {
      if (!monitorQueue) {
        monitorQueue = new Queue<TestJobData>(MONITOR_QUEUE_NAME, {
          connection: producer,
          prefix: bullPrefix(options.prefix),
        }) as TestQueue;
        monitorQueue.on('error', onError);
      }
      return monitorQueue;
    },
    get shardQueue() {
      if (!shardQueue) {
        shardQueue = new Queue<StressShardJobData>(STRESS_SHARD_QUEUE_NAME, {
          connection: producer,
          prefix: bullPrefix(options.prefix),
        }) as ShardQueue;
        shardQueue.on('error', onError);
      }
      return shardQueue;
    },
    createWorker<R, D = TestJobData>(
      processor: Processor<D, R>,
      { queue: name, ...workerOptions }: WorkerOptions,
    ) {
      workerConnection ??= createRedis(options.url, 'worker', onError);
      const worker = new Worker<D, R>(name, processor, {
        ...workerOptions,
        connection: workerConnection,
        prefix: bullPrefix(options.prefix),
      });
      return worker as TestQueueWorker<R, D>;
    },
    eventLog: new RedisEventLog(producer, { prefix: options.prefix }),
    pubsub,
    tickets: new RedisTicketStore(producer, { prefix: options.prefix }),
    connections: new RedisConnectionRegistry(producer, {
      prefix: options.prefix,
      leaseMs: options.connectionLeaseMs,
    }),
    acks: new RedisAckStore(producer, { prefix: options.prefix }),
    stressConnections: new RedisStressConnectionStore(producer, { prefix: options.prefix }),
    targetHosts: new RedisStressConnectionStore(producer, { prefix: options.prefix, namespace: 'hosts' }),
    runningSlots: new RedisStressConnectionStore(producer, { prefix: options.prefix, namespace: 'running' }),
    presence: new RedisPresenceStore(producer, options.prefix),
    createRateLimiter: ({ name, points, durationSec }) =>
      new RateLimiterRedis({
        storeClient: producer,
        keyPrefix: `${options.prefix}:throttle:${name}`,
        points,
        duration: durationSec,
        // Fail over at once rather than wait: a sign-in must not hang on a lost Redis.
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix: name, points, duration: durationSec }),
      }),
    cacheStack: { redis: producer, bus: pubsub, prefix: `${options.prefix}:cache` },
    checks: { redis: async () => (await producer.ping()) === 'PONG' },
    async waitUntilReady() {
      if (producer.status !== 'ready') await once(producer, 'ready');
    },
    async close() {
      await Promise.all([queue.close(), monitorQueue?.close(), shardQueue?.close()]);
      await this.connections.close();
      await this.stressConnections.close();
      await this.targetHosts.close();
      await this.runningSlots.close();
      await pubsub.close();
      await Promise.allSettled([producer.quit(), workerConnection?.quit()]);
    },
  };
}

export interface EmbeddedBackplaneOptions {
  /** The PostgreSQL that holds the queue (the embedded one; its search_path must include `bullmq`). */
  databaseUrl: string;
  onError?: (err: Error) => void;
}

/** BullMQ's schema; the embedded server puts it on the search_path after `public`. */
export const BULLMQ_SCHEMA = 'bullmq';

/**
 * Embedded mode: BullMQ itself on its PostgreSQL backend (jobs survive a restart with the data
 * folder), and an in-process bus and channel history (one process: nobody else to tell).
 */
export async function createEmbeddedBackplane(options: EmbeddedBackplaneOptions): Promise<Backplane> {
  const onError = options.onError ?? (() => {});
  // BullMQ takes a worker's LISTEN client from this pool, so it needs room beyond that.
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 10, keepAlive: true });
  pool.on('error', onError);
  // Ours, then one 'error' listener per BullMQ queue and live worker on the pool: four and four
  // in a whole process, near Node's warning threshold of 10 by design, not by a leak.
  pool.setMaxListeners(32);
  try {
    const client = await pool.connect();
    try {
      await runMigrations(client, BULLMQ_SCHEMA);
      // Both schemas resolve unqualified names on one search_path: a table of ours named like
      // one of BullMQ's would silently take its place, so refuse to start instead.
      const { rows } = await client.query<{ name: string }>(
        `SELECT a.relname AS name FROM pg_class a JOIN pg_class b ON a.relname = b.relname
          WHERE a.relnamespace = 'public'::regnamespace AND b.relnamespace = $1::regnamespace`,
        [BULLMQ_SCHEMA],
      );
      if (rows.length > 0) {
        throw new Error(`tables in public shadow BullMQ's: ${rows.map((r) => r.name).join(', ')}`);
      }
    } finally {
      client.release();
    }
  } catch (err) {
    await pool.end();
    throw err;
  }
  const Classes = withBackend(createPostgresBackend);
  const queue = new TestQueues((name) => {
    const made = new Classes.Queue<TestJobData>(name, { connection: pool });
    made.on('error', onError);
    return made as unknown as TestQueue;
  });
  const monitorQueue = new Classes.Queue<TestJobData>(MONITOR_QUEUE_NAME, { connection: pool });
  monitorQueue.on('error', onError);
  const shardQueue = new Classes.Queue<StressShardJobData>(STRESS_SHARD_QUEUE_NAME, { connection: pool });
  shardQueue.on('error', onError);
  const pubsub = new MemoryPubSub();
  const memoryLimiters = new Map<string, RateLimiter>();
  return {
    mode: 'embedded',
    eventLogOrderedWithQueue: false,
    queue,
    monitorQueue: monitorQueue as unknown as TestQueue,
    shardQueue: shardQueue as unknown as ShardQueue,
    createWorker<R, D = TestJobData>(
      processor: Processor<D, R>,
      { queue: name, ...workerOptions }: WorkerOptions,
    ) {
      // BullMQ's PostgreSQL connection adds an 'error' listener to the pool it is given and keeps
      // it after close (bullmq 6.7.0, postgres-connection.js): each worker restarted on this pool
      // left one more behind, holding the closed worker's connection. Taken off when it closes.
      const before = new Set(pool.listeners('error'));
      const worker = new Classes.Worker<D, R>(name, processor, {
        ...workerOptions,
        connection: pool,
      });
      const added = pool.listeners('error').filter((listener) => !before.has(listener));
      worker.once('closed', () => {
        for (const listener of added) pool.off('error', listener as (err: Error) => void);
      });
      return worker as unknown as TestQueueWorker<R, D>;
    },
    eventLog: new MemoryEventLog(pubsub),
    pubsub,
    tickets: new MemoryTicketStore(),
    connections: new MemoryConnectionRegistry(),
    acks: new MemoryAckStore(),
    stressConnections: new MemoryStressConnectionStore(),
    targetHosts: new MemoryStressConnectionStore(),
    runningSlots: new MemoryStressConnectionStore(),
    presence: new MemoryPresenceStore(),
    createRateLimiter: (limiter) => {
      // Every caller of one name must see the same counters, as they would in Redis.
      let shared = memoryLimiters.get(limiter.name);
      if (!shared) {
        shared = new RateLimiterMemory({
          keyPrefix: limiter.name,
          points: limiter.points,
          duration: limiter.durationSec,
        });
        memoryLimiters.set(limiter.name, shared);
      }
      return shared;
    },
    cacheStack: { bus: pubsub },
    checks: {
      queue: async () => (await pool.query('SELECT 1')).rowCount === 1,
    },
    async waitUntilReady() {
      await queue.waitUntilReady();
    },
    async close() {
      await Promise.all([queue.close(), monitorQueue.close(), shardQueue.close()]);
      await pubsub.close();
      await pool.end();
    },
  };
}
