import {
  ConfigError,
  envHost,
  envInt,
  envLogFormat,
  envMetricsToken,
  envPrefix,
  envSecret,
  envString,
  envUrl,
} from '@crucible/shared';
import type { LogFormat } from '@crucible/shared';
import { envAllowlist } from '@crucible/shared/egress';
import type { Allowlist } from '@crucible/shared/egress';
import ipaddr from 'ipaddr.js';
import type { RegistrationMode } from '@crucible/shared/api';
import type { AuthThrottleOptions } from './services/auth-throttle.js';

export interface ApiEnv {
  databaseUrl: string;
  redisUrl: string;
  port: number;
  /** Interface to listen on (`HOST`). @defaultValue 0.0.0.0 */
  host: string;
  /** Bearer token `/metrics` asks for (`METRICS_TOKEN`). @defaultValue undefined (open) */
  metricsToken: string | undefined;
  jwtSecret: string;
  prefix: string;
  logLevel: string;
  /** Private hosts/ranges tests may target; empty: public addresses only. */
  targetAllowlist: Allowlist;
  /** Group commit of submissions (DESIGN.md, "Accepting a test"). */
  acceptBatch: { maxBatch: number; windowMs: number; maxInFlight: number };
  authThrottle: AuthThrottleOptions;
  /** Who may register (`REGISTRATION`). @defaultValue invite */
  registration: RegistrationMode;
  /** Fastify's `trustProxy`: which proxies' `X-Forwarded-For` is believed. */
  trustProxy: TrustProxy;
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
    host: envHost(env),
    metricsToken: envMetricsToken(env),
    jwtSecret,
    prefix: envPrefix(env),
    logLevel: envString(env, 'LOG_LEVEL', 'info')!,
    targetAllowlist: envAllowlist(env),
    acceptBatch: loadAcceptBatch(env),
    authThrottle: loadAuthThrottle(env),
    registration: envRegistration(env) ?? 'invite',
    trustProxy: envTrustProxy(env),
  };
}

/**
 * `REGISTRATION`: `open` (anyone), `invite` (with an administrator's invitation) or `closed`;
 * undefined when unset (all-in-one then opens registration until the first account exists).
 */
export function envRegistration(env: NodeJS.ProcessEnv = process.env): RegistrationMode | undefined {
  const raw = envString(env, 'REGISTRATION');
  if (raw === undefined) return undefined;
  if (raw !== 'open' && raw !== 'invite' && raw !== 'closed')
    throw new ConfigError('REGISTRATION', `must be open, invite or closed, got "${raw}"`);
  return raw;
}

/** Throttling of the credential routes (README, "Accounts and sign-in"); api and all-in-one. */
export function loadAuthThrottle(env: NodeJS.ProcessEnv = process.env): AuthThrottleOptions {
  return {
    accountFailures: envInt(env, 'LOGIN_THROTTLE_ACCOUNT_FAILURES', 5, { min: 1, max: 10_000 }),
    addressFailures: envInt(env, 'LOGIN_THROTTLE_ADDRESS_FAILURES', 20, { min: 1, max: 100_000 }),
    maxDelaySec: envInt(env, 'LOGIN_THROTTLE_MAX_DELAY_SEC', 60, { min: 1, max: 3600 }),
    windowSec: envInt(env, 'LOGIN_THROTTLE_WINDOW_SEC', 3600, { min: 60, max: 7 * 86_400 }),
    registrationsPerHour: envInt(env, 'REGISTER_MAX_PER_HOUR', 10, { min: 1, max: 1_000_000 }),
    apiKeysPerHour: envInt(env, 'API_KEYS_MAX_PER_HOUR', 20, { min: 1, max: 1_000_000 }),
  };
}

/** Fastify's `trustProxy` values; a hop count is a function, as Fastify makes of one. */
export type TrustProxy = boolean | string | ((address: string, hop: number) => boolean);

/**
 * `TRUST_PROXY`: `false` (clients connect directly), `true` (believe any `X-Forwarded-For`), a
 * number of proxy hops, or the proxies' addresses/CIDRs separated by commas.
 */
export function envTrustProxy(env: NodeJS.ProcessEnv = process.env): TrustProxy {
  const raw = envString(env, 'TRUST_PROXY', 'false')!.trim();
  if (/^false$/i.test(raw)) return false;
  if (/^true$/i.test(raw)) return true;
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    return (_address, hop) => hop < hops;
  }
  for (const entry of raw.split(',').map((e) => e.trim())) {
    if (!ipaddr.isValid(entry) && !ipaddr.isValidCIDR(entry))
      throw new ConfigError(
        'TRUST_PROXY',
        `"${entry}" is not an address or CIDR (or use true, false, a hop count)`,
      );
  }
  return raw;
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
