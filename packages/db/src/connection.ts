import { Kysely, PostgresDialect } from 'kysely';
import type { LogEvent } from 'kysely';
import pg from 'pg';
import type { Database } from './types.js';

// PostgreSQL int8 (bigint ids) as strings is pg's default; counts are small, so parse int8 only
// where a query casts explicitly.

export interface DbOptions {
  /** Pool size. @defaultValue 10 */
  max?: number;
  /** Called for errors of idle pool clients (a database restart), which must not crash the process. */
  onError?: (err: Error) => void;
  /** Called after each query with its SQL (Kysely's log hook): for counting what a path costs. @defaultValue none */
  onQuery?: (sql: string) => void;
}

export interface Db {
  kysely: Kysely<Database>;
  pool: pg.Pool;
  close(): Promise<void>;
}

export function createDb(connectionString: string, options: DbOptions = {}): Db {
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // No JIT compilation: its threshold is a cost estimate, and the estimate of a queue position over
    // 50,000 waiting tests crossed the inlining and optimisation thresholds — 770 ms of compiling for
    // a 100 ms query (bench growth, 2026-12-06). A request's queries are short; compiling never pays.
    // A SET on each new connection (the embedded PGlite takes it as PostgreSQL does), awaited by the
    // pool before it hands the connection out: sent from the 'connect' event instead, it raced the
    // first query and pg warned of a query sent while another ran.
    onConnect: async (client) => {
      await client.query('SET jit = off');
    },
  });
  pool.on('error', options.onError ?? (() => {}));
  const onQuery = options.onQuery;
  const kysely = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    ...(onQuery ? { log: (event: LogEvent) => onQuery(event.query.sql) } : {}),
  });
  return {
    kysely,
    pool,
    close: () => kysely.destroy(),
  };
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '53300', // too_many_connections: up, but no session for us right now
]);

/** True when an error means PostgreSQL could not be reached (worth retrying), not that a query was wrong. */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
    err.message,
  );
}
