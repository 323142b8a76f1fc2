import { ConfigError, envInt, envLogFormat, envPrefix, envSecret, envString, envUrl } from '@crucible/shared';
import type { LogFormat } from '@crucible/shared';
import { envAllowlist } from '@crucible/shared/egress';
import type { Allowlist } from '@crucible/shared/egress';

export interface ApiEnv {
  databaseUrl: string;
  redisUrl: string;
  port: number;
  host: string;
  jwtSecret: string;
  prefix: string;
  logLevel: string;
  /** Private hosts/ranges tests may target; empty: public addresses only. */
  targetAllowlist: Allowlist;
  /** Group commit of submissions (DESIGN.md, "Accepting a test"). */
  acceptBatch: { maxBatch: number; windowMs: number; maxInFlight: number };
}

/** Parses the API's configuration once, at start; a bad value throws a ConfigError naming the variable. */
export function loadApiEnv(env: NodeJS.ProcessEnv = process.env): ApiEnv {
  const jwtSecret = envSecret(env, 'JWT_SECRET');
  if (!jwtSecret)
    throw new ConfigError('JWT_SECRET', 'is required in distributed mode (at least 32 characters)');
  return {
    databaseUrl:
      envUrl(env, 'DATABASE_URL', ['postgres:', 'postgresql:']) ??
      'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: envUrl(env, 'REDIS_URL', ['redis:', 'rediss:']) ?? 'redis://127.0.0.1:6379',
    port: envInt(env, 'PORT', 3000, { min: 0, max: 65535 }),
    host: envString(env, 'HOST', '0.0.0.0')!,
    jwtSecret,
    prefix: envPrefix(env),
    logLevel: envString(env, 'LOG_LEVEL', 'info')!,
    targetAllowlist: envAllowlist(env),
    acceptBatch: loadAcceptBatch(env),
  };
}

/** The accept path's group commit (DESIGN.md, "Accepting a test: group commit"); api and all-in-one. */
export function loadAcceptBatch(env: NodeJS.ProcessEnv = process.env) {
  return {
    maxBatch: envInt(env, 'ACCEPT_BATCH_MAX', 200, { min: 1, max: 5_000 }),
    windowMs: envInt(env, 'ACCEPT_BATCH_WINDOW_MS', 0, { min: 0, max: 1_000 }),
    maxInFlight: envInt(env, 'ACCEPT_BATCH_IN_FLIGHT', 4, { min: 1, max: 64 }),
  };
}

export interface MigrateEnv {
  databaseUrl: string;
  logLevel: string;
  logFormat: LogFormat;
}

/** Configuration of the one-shot migrate job (`dist/migrate.js`): only the database. */
export function loadMigrateEnv(env: NodeJS.ProcessEnv = process.env): MigrateEnv {
  const databaseUrl = envUrl(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  if (!databaseUrl) throw new ConfigError('DATABASE_URL', 'is required');
  return {
    databaseUrl,
    logLevel: envString(env, 'LOG_LEVEL', 'info')!,
    logFormat: envLogFormat(env),
  };
}
