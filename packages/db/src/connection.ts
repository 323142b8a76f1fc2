import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './types.js';

// PostgreSQL int8 (bigint ids) as strings is pg's default; counts are small, so parse int8 only
// where a query casts explicitly.

export interface DbOptions {
  /** Pool size. @defaultValue 10 */
  max?: number;
  /** Called for errors of idle pool clients (a database restart), which must not crash the process. */
  onError?: (err: Error) => void;
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
  });
  pool.on('error', options.onError ?? (() => {}));
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    kysely,
    pool,
    close: () => kysely.destroy(),
  };
}
