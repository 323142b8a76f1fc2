import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketHandler } from '@electric-sql/pglite-socket';
import type { PGLiteSocketHandlerOptions } from '@electric-sql/pglite-socket';

// PGlite is one PostgreSQL backend: one session that every socket connection shares.
// pglite-socket's own scheduler hands that session to another connection between any two protocol
// messages unless an explicit transaction is open, so two pooled `pg` clients sending
// Parse/Bind/Execute/Sync at once can bind each other's unnamed statement; and one failed message
// leaves its queue stuck for good (electric-sql/pglite#1046). The scheduler below keeps
// pglite-socket's connection handling and replaces only the scheduling: a connection keeps the
// session from its first message until a ReadyForQuery boundary (Sync, simple Query, startup)
// outside a transaction, a failing message fails only itself, and NOTIFY reaches the connections
// that LISTEN (the session emits it into whichever connection's response happens to be running).

type QueryQueue = PGLiteSocketHandlerOptions['queryQueue'];

interface Pending {
  handlerId: number;
  message: Uint8Array;
  onData: (data: Uint8Array) => void;
  resolve: (bytes: number) => void;
  reject: (err: Error) => void;
}

const SYNC = new Uint8Array([0x53, 0, 0, 0, 4]);
const LISTEN_RE = /\b(UN)?LISTEN\s+("(?:[^"]|"")+"|[A-Za-z_][\w$]*|\*)/gi;

function cString(bytes: Uint8Array, start: number): [string, number] {
  let end = start;
  while (end < bytes.length && bytes[end] !== 0) end++;
  return [Buffer.from(bytes.subarray(start, end)).toString('utf8'), end + 1];
}

/** The SQL text of a simple Query or a Parse message, else undefined. */
function sqlOf(message: Uint8Array): string | undefined {
  if (message[0] === 0x51) return cString(message, 5)[0];
  if (message[0] === 0x50) return cString(message, cString(message, 5)[1])[0];
  return undefined;
}

/** After these the backend sends ReadyForQuery: the extended-protocol batch (if any) is over. */
function endsBatch(message: Uint8Array): boolean {
  // 0 is the first byte of a startup packet (a length, never a message type); X is Terminate.
  return message[0] === 0x53 || message[0] === 0x51 || message[0] === 0 || message[0] === 0x58;
}

export class SessionScheduler {
  readonly #db: PGlite;
  #queue: Pending[] = [];
  #running = false;
  /** The connection the session belongs to until its batch or transaction ends. */
  #owner: number | null = null;
  readonly #listens = new Map<number, Set<string>>();
  readonly #sinks = new Map<number, Socket>();

  constructor(db: PGlite) {
    this.#db = db;
  }

  /** Where notifications for a connection are written. */
  register(handlerId: number, socket: Socket): void {
    this.#sinks.set(handlerId, socket);
  }

  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ handlerId, message, onData, resolve, reject });
      void this.#drain();
    });
  }

  getQueueLength(): number {
    return this.#queue.length;
  }

  clearQueueForHandler(handlerId: number): void {
    this.#queue = this.#queue.filter((q) => {
      if (q.handlerId !== handlerId) return true;
      q.reject(new Error('connection closed'));
      return false;
    });
    this.#listens.delete(handlerId);
    this.#sinks.delete(handlerId);
  }

  /** A connection that left while owning the session: roll back what it left open and move on. */
  async clearTransactionIfNeeded(handlerId: number): Promise<void> {
    if (this.#owner !== handlerId) return;
    await this.#db.runExclusive(async () => {
      // A Sync ends an extended batch (and an error's skip-until-Sync state) it never finished.
      await this.#db.execProtocolRaw(SYNC);
      if (this.#db.isInTransaction()) await this.#db.exec('ROLLBACK');
    });
    this.#owner = null;
    void this.#drain();
  }

  #next(): Pending | undefined {
    if (this.#owner === null) return this.#queue.shift();
    const i = this.#queue.findIndex((q) => q.handlerId === this.#owner);
    return i === -1 ? undefined : this.#queue.splice(i, 1)[0];
  }

  async #drain(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      for (let item = this.#next(); item; item = this.#next()) {
        this.#owner = item.handlerId;
        this.#track(item);
        try {
          const bytes = await this.#run(item);
          item.resolve(bytes);
        } catch (err) {
          item.reject(err instanceof Error ? err : new Error(String(err)));
        }
        if (endsBatch(item.message) && !this.#db.isInTransaction()) this.#owner = null;
      }
    } finally {
      this.#running = false;
    }
  }

  #track(item: Pending): void {
    const sql = sqlOf(item.message);
    if (!sql || !/listen/i.test(sql)) return;
    let set = this.#listens.get(item.handlerId);
    if (!set) this.#listens.set(item.handlerId, (set = new Set()));
    for (const [, un, raw] of sql.matchAll(LISTEN_RE)) {
      const name = raw!.startsWith('"') ? raw!.slice(1, -1).replaceAll('""', '"') : raw!.toLowerCase();
      if (!un) set.add(name);
      else if (name === '*') set.clear();
      else set.delete(name);
    }
  }

  /** Runs one message; NotificationResponse messages go to their listeners, the rest to the caller. */
  async #run(item: Pending): Promise<number> {
    let buffered = Buffer.alloc(0);
    let written = 0;
    const forward = (chunk: Buffer) => {
      if (chunk.length === 0) return;
      written += chunk.length;
      item.onData(chunk);
    };
    await this.#db.runExclusive(() =>
      this.#db.execProtocolRawStream(item.message, {
        onRawData: (data) => {
          buffered = buffered.length ? Buffer.concat([buffered, data]) : Buffer.from(data);
          let start = 0;
          let pos = 0;
          while (pos + 5 <= buffered.length) {
            const end = pos + 1 + buffered.readInt32BE(pos + 1);
            if (end > buffered.length) break;
            if (buffered[pos] === 0x41) {
              forward(buffered.subarray(start, pos));
              this.#notify(buffered.subarray(pos, end));
              start = end;
            }
            pos = end;
          }
          forward(buffered.subarray(start, pos));
          buffered = buffered.subarray(pos);
        },
      }),
    );
    forward(buffered);
    return written;
  }

  #notify(message: Buffer): void {
    const [channel] = cString(message, 9);
    for (const [handlerId, channels] of this.#listens) {
      if (!channels.has(channel)) continue;
      const socket = this.#sinks.get(handlerId);
      if (socket?.writable) socket.write(Buffer.from(message));
    }
  }
}

export interface EmbeddedPostgresOptions {
  /** Folder of the database files (created when missing). */
  dataDir: string;
  /** Loopback port to serve on. @defaultValue 0 (any free port) */
  port?: number;
  /** Connections served at once. @defaultValue 64 */
  maxConnections?: number;
  /**
   * Schemas every connection resolves unqualified names in, first one first; they share one
   * session, so this is the search_path of all of them. @defaultValue ['public']
   */
  searchPath?: string[];
}

export interface EmbeddedPostgres {
  /** `postgres://` URL of the loopback server, for `pg` / Kysely / BullMQ. */
  url: string;
  close(): Promise<void>;
}

/** The data folder is open in another live process (`code` DATA_DIR_IN_USE). */
export class DataDirInUseError extends Error {
  readonly code = 'DATA_DIR_IN_USE';
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(`${dataDir} is in use by process ${pid}; stop it first`);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Claims a data folder for this process (`crucible.pid` in it), or throws DataDirInUseError when
 * another live process holds it: two PGlite instances on one folder would corrupt it. A claim left
 * by a killed process is taken over; claiming again from the holding process is a no-op. Returns
 * the release. Call it before slow start-up work, so that a second start fails at once.
 */
export function claimDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'crucible.pid');
  const release = () => rmSync(file, { force: true });
  // Written whole under a name of its own, then linked into place: link() fails when the claim
  // exists, so of two processes starting at once exactly one gets it, and no reader sees it empty.
  const mine = join(dataDir, `crucible.pid.${process.pid}`);
  writeFileSync(mine, String(process.pid));
  try {
    for (;;) {
      try {
        linkSync(mine, file);
        return release;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const pid = Number(readFileSync(file, 'utf8'));
      if (pid === process.pid) return release;
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) throw new DataDirInUseError(dataDir, pid);
      rmSync(file, { force: true });
    }
  } finally {
    rmSync(mine, { force: true });
  }
}

/**
 * PostgreSQL without installing PostgreSQL: PGlite keeping its files under `dataDir`, served on a
 * loopback port so `pg`, Kysely and BullMQ talk to it exactly as to a real server.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const unlock = claimDataDir(options.dataDir);
  let db: PGlite;
  try {
    db = await PGlite.create(join(options.dataDir, 'pgdata'));
  } catch (err) {
    unlock();
    throw err;
  }
  const searchPath = (options.searchPath ?? ['public']).map((s) => `"${s.replaceAll('"', '""')}"`).join(', ');
  // Kept in the database for the next start and set on the one session for this one.
  await db.exec(`ALTER DATABASE postgres SET search_path TO ${searchPath}; SET search_path TO ${searchPath}`);

  const scheduler = new SessionScheduler(db);
  const queryQueue = scheduler as unknown as QueryQueue;
  const maxConnections = options.maxConnections ?? 64;
  const handlers = new Set<PGLiteSocketHandler>();
  const server: Server = createServer((socket) => {
    if (handlers.size >= maxConnections) {
      socket.end();
      return;
    }
    const handler = new PGLiteSocketHandler({ queryQueue, closeOnDetach: true });
    handlers.add(handler);
    const forget = () => handlers.delete(handler);
    handler.addEventListener('close', forget);
    handler.addEventListener('error', forget);
    scheduler.register(handler.handlerId, socket);
    void handler.attach(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };

  let closing: Promise<void> | undefined;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        await Promise.all([...handlers].map((h) => h.detach(true)));
        handlers.clear();
        await closed;
        await db.close();
        unlock();
      })();
      return closing;
    },
  };
}
