import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { SessionsRepository, UsersRepository, createDb } from '@crucible/db';
import { RedisEventLog, createRedis } from '@crucible/backplane';
import { Channels, Events, Priority, createMessage } from '@crucible/contracts';
import { createTokenService } from '@crucible/runtime';
import { Redis } from 'ioredis';
import type { SystemAlertData } from '@crucible/contracts';
import type { BenchContext } from '../../harness.js';
import { atRate } from '../../lib/pace.js';
import { freePort, startProcess, waitForOutput, waitForReady } from '../../lib/processes.js';
import type { ChildApp } from '../../lib/processes.js';
import { REDIS_URL } from '../../lib/redis.js';
import type { CrucibleStack } from '../../lib/stack.js';
import { profileArgs } from '../../lib/stack.js';

/** Source addresses for client sockets: 10,000 from one address would share one port range. */
export const LOCAL_ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];

/** A WebSocket server the benchmark talks to: a Crucible gateway or the bare anchor. */
export interface Server {
  label: string;
  url: string;
  proc: ChildApp;
  /** Tokens to open sockets with (empty for the anchor, which has no authentication). */
  tokens: string[];
}

/**
 * Node arguments that let `collectGarbage` run a full collection in the process (`--expose-gc`
 * and a SIGUSR2 handler preloaded from `src/lib/gc-on-signal.mjs`). Nothing else changes.
 */
export const GC_ON_SIGNAL = ['--expose-gc', '--import', './bench/src/lib/gc-on-signal.mjs'];

/** A full collection in a process started with `GC_ON_SIGNAL`; resolves once it is done. */
export async function collectGarbage(proc: ChildApp): Promise<void> {
  const done = `[gc ${(collections.get(proc) ?? 0) + 1}]`;
  collections.set(proc, (collections.get(proc) ?? 0) + 1);
  proc.child.kill('SIGUSR2');
  await waitForOutput(proc, done, 30_000);
}
const collections = new WeakMap<ChildApp, number>();

/** The resident set of a process, read from the kernel (the same stick for every process). */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!kb) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb[1]) * 1024;
}

/**
 * `count` users in the stack's database with a signed-in session and its token each, signed by the
 * shared token service with the secret the gateways get: sockets authenticate as they do in production.
 * (The default limit is 10 sockets per user, so 10,000 sockets need 1,000 users.)
 */
export async function makeUsers(ctx: BenchContext, stack: CrucibleStack, count: number): Promise<string[]> {
  const db = createDb(stack.databaseUrl);
  ctx.defer(() => db.close());
  const users = new UsersRepository(db.kysely);
  const sessions = new SessionsRepository(db.kysely);
  const tokens = createTokenService(stack.env.JWT_SECRET!);
  const out: string[] = [];
  for (let i = 0; i < count; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, (_, k) =>
        users.create(`bench-ws-${i + k}@example.com`, 'not-a-password-hash'),
      ),
    );
    const started = await Promise.all(batch.map((user) => sessions.create(user!.id, { userAgent: 'bench' })));
    batch.forEach((user, k) =>
      out.push(tokens.sign({ sub: user!.id, role: user!.role, sid: started[k]!.id })),
    );
  }
  return out;
}

/** A Crucible gateway process (apps/gateway/src/main.ts) of the stack, room for `maxConnections`. */
export async function startGateway(
  ctx: BenchContext,
  stack: CrucibleStack,
  name: string,
  tokens: string[],
  maxConnections = 20_000,
  nodeArgs: string[] = [],
): Promise<Server> {
  const port = await freePort();
  const proc = startProcess(
    name,
    'apps/gateway/src/main.ts',
    {
      ...stack.env,
      GATEWAY_PORT: String(port),
      GATEWAY_MAX_CONNECTIONS: String(maxConnections),
      MIGRATE_ON_START: 'false',
    },
    [...profileArgs(), ...nodeArgs],
  );
  ctx.defer(() => proc.stop());
  await waitForReady(`http://127.0.0.1:${port}/health/ready`, proc);
  return { label: 'Crucible gateway', url: `ws://127.0.0.1:${port}/ws`, proc, tokens };
}

/** The anchor: a bare `ws` server fed by Redis pub/sub on channels `<prefix>:<channel>`. */
export async function startBareWs(
  ctx: BenchContext,
  prefix: string,
  nodeArgs: string[] = [],
): Promise<Server> {
  const port = await freePort();
  const proc = startProcess(
    'bare-ws',
    'bench/src/anchors/bare-ws.ts',
    { PORT: String(port), REDIS_URL, ANCHOR_PREFIX: `${prefix}:anchor` },
    nodeArgs,
  );
  ctx.defer(() => proc.stop());
  await waitForReady(`http://127.0.0.1:${port}/health/ready`, proc);
  return { label: 'bare ws + Redis pub/sub', url: `ws://127.0.0.1:${port}/ws`, proc, tokens: [] };
}

/** The process that holds the client sockets (see clients.ts), driven over HTTP. */
export class Clients {
  readonly #base: string;
  readonly #proc: ChildApp;

  private constructor(base: string, proc: ChildApp) {
    this.#base = base;
    this.#proc = proc;
  }

  static async start(ctx: BenchContext, name = 'ws-clients'): Promise<Clients> {
    const port = await freePort();
    const proc = startProcess(name, 'bench/src/benchmarks/gateway/clients.ts', { PORT: String(port) });
    ctx.defer(() => proc.stop());
    await waitForReady(`http://127.0.0.1:${port}/health/ready`, proc);
    return new Clients(`http://127.0.0.1:${port}`, proc);
  }

  async #post<T>(path: string, body: unknown): Promise<T> {
    const res = await fetch(this.#base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).catch((err: unknown) => {
      throw new Error(`clients ${path}: ${String(err)}\n${this.#proc.output()}`);
    });
    const value = (await res.json()) as T & { error?: string };
    if (res.status !== 200) throw new Error(`clients ${path}: ${value.error ?? res.status}`);
    return value;
  }

  /** Opens `count` sockets to the server (subscribed to `channel` if given), all open on return. */
  async open(set: string, server: Server, count: number, channel?: string): Promise<void> {
    await this.#post('/open', {
      set,
      url: server.url,
      tokens: server.tokens,
      count,
      channel,
      localAddresses: LOCAL_ADDRESSES,
    });
  }

  close(set: string): Promise<void> {
    return this.#post('/close', { set });
  }

  /** Resets the counters: `count` scans bytes for messages, `latency` parses, times and acks them. */
  mode(mode: 'count' | 'latency'): Promise<void> {
    return this.#post('/mode', { mode });
  }

  /** Resolves once `total` messages have arrived since the last `mode`. */
  awaitTotal(total: number): Promise<void> {
    return this.#post('/await', { total });
  }

  async stats(): Promise<{ received: number; count: number; p50: number; p99: number }> {
    const res = await fetch(`${this.#base}/stats`);
    return (await res.json()) as { received: number; count: number; p50: number; p99: number };
  }
}

/** How a message reaches a channel: Crucible's event log, or a plain PUBLISH for the anchor. */
export type Publish = (n: number, priority: Priority) => Promise<unknown>;

/**
 * The benchmark's own payload (a sequence number and when it was sent), under an event name the
 * gateway forwards untouched: it never looks into `data`.
 */
const benchData = (n: number) =>
  ({ n, sentAt: performance.timeOrigin + performance.now() }) as unknown as SystemAlertData;

/** The one way Crucible's apps publish: `RedisEventLog.publish` (offset, history, then PUBLISH). */
export async function crucibleChannelPublisher(
  ctx: BenchContext,
  prefix: string,
  channel: string,
): Promise<Publish> {
  const redis = createRedis(REDIS_URL, 'producer');
  ctx.defer(() => redis.quit());
  // The apps' producer connection fails fast instead of queueing: publish once it is ready.
  if (redis.status !== 'ready') await once(redis, 'ready');
  const log = new RedisEventLog(redis, { prefix });
  return (n, priority) =>
    log.publish(
      createMessage({
        event: Events.SYSTEM_ALERT,
        channel,
        data: benchData(n),
        userId: null,
        priority,
      }),
    );
}

/** The anchor's publisher: the same envelope, one PUBLISH. */
export function barePublisher(ctx: BenchContext, prefix: string, channel: string): Publish {
  const redis = new Redis(REDIS_URL);
  ctx.defer(() => redis.quit());
  return (n, priority) => {
    const message = createMessage({
      event: Events.SYSTEM_ALERT,
      channel,
      data: benchData(n),
      userId: null,
      priority,
    });
    return redis.publish(
      `${prefix}:anchor:${channel}`,
      JSON.stringify({ ...message, offset: n, epoch: 'anchor' }),
    );
  };
}

/** CPU time (user + system) a process has used so far, in ms, from the kernel's accounting. */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}
/** USER_HZ: 100 on every Linux this runs on (`getconf CLK_TCK`). */
const CLOCK_TICKS = 100;

/**
 * Deliveries per second: `messages` published back to back (all in flight at once), timed from
 * the first publish until every one of them reached every one of `subscribers` sockets; and the
 * CPU time the server process(es) `pids` spent per 1,000 deliveries meanwhile.
 */
export async function deliveries(
  clients: Clients,
  publish: Publish,
  messages: number,
  subscribers: number,
  pids: number[] = [],
): Promise<{ rate: number; cpu: number }> {
  const total = messages * subscribers;
  const cpu = async () => (await Promise.all(pids.map(cpuMs))).reduce((a, b) => a + b, 0);
  await clients.mode('count');
  const cpuBefore = await cpu();
  const started = performance.now();
  const arrived = clients.awaitTotal(total);
  await Promise.all([arrived, ...Array.from({ length: messages }, (_, n) => publish(n, Priority.NORMAL))]);
  const seconds = (performance.now() - started) / 1000;
  return { rate: total / seconds, cpu: ((await cpu()) - cpuBefore) / (total / 1000) };
}

/** Publish-to-receive latency of every delivery, `messages` published at `rate` per second. */
export async function latency(
  clients: Clients,
  publish: Publish,
  messages: number,
  subscribers: number,
  rate: number,
  priority: Priority,
): Promise<{ p50: number; p99: number }> {
  await clients.mode('latency');
  const arrived = clients.awaitTotal(messages * subscribers);
  await Promise.all([arrived, atRate(rate, messages, async (n) => void (await publish(n, priority)))]);
  const stats = await clients.stats();
  return { p50: stats.p50, p99: stats.p99 };
}

// A channel every signed-in user may read whose aggregates (no user) reach them all.
export const FANOUT_CHANNEL = Channels.QUEUE_UPDATES;
