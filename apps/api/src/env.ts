import type { QuotaLimits } from '@crucible/contracts';
import type { RegistrationMode } from '@crucible/contracts/api';
import { parseAllowlist } from '@crucible/egress';
import type { Allowlist } from '@crucible/egress';
import { loadNotifySettings } from '@crucible/notify';
import type { NotifySettings } from '@crucible/notify';
import {
  ConfigError,
  envHost,
  envInt,
  envLockDurationMs,
  envLogFormat,
  envMetricsToken,
  envParsed,
  envPrefix,
  envQuotaLimits,
  envSecret,
  envString,
  envUrl,
} from '@crucible/runtime';
import type { LogFormat } from '@crucible/runtime';
import ipaddr from 'ipaddr.js';
import type { AuthThrottleOptions } from './services/auth-throttle.js';
import type { SystemAlertSettings } from './services/system-alerts.js';

/**
 * What the api's variables mean wherever it runs: alone (`main.ts`) or inside all-in-one, which
 * calls this same loader, so one variable never means two things.
 */
export interface ApiSettings {
  /**
   * Private hosts/ranges tests may target (`TARGET_ALLOWLIST`); empty: public addresses only.
   * @defaultValue ApiSettingsDefaults.targetAllowlist
   */
  targetAllowlist: Allowlist;
  /** Group commit of submissions (DESIGN.md, "Accepting a test"). */
  acceptBatch: { maxBatch: number; windowMs: number; maxInFlight: number };
  authThrottle: AuthThrottleOptions;
  /**
   * Who may register (`REGISTRATION`); undefined: open until the first account exists, then invite.
   * @defaultValue ApiSettingsDefaults.registration
   */
  registration: RegistrationMode | undefined;
  /** Which proxies' `X-Forwarded-For` is believed (`TRUST_PROXY`). @defaultValue false */
  trustProxy: TrustProxy;
  /**
   * The workers' lock duration (`WORKER_LOCK_DURATION_MS`): a running test not written for this long
   * is shown stalled. @defaultValue 30000, as the workers
   */
  lockDurationMs: number;
  /**
   * Where clients are told the WebSocket gateway is (`PUBLIC_WS_URL`, answered by `GET /api/meta`):
   * an absolute `ws:`/`wss:` URL, or a path on the api's own address. @defaultValue `/ws`
   */
  publicWsUrl: string;
  /** The shortest interval a monitor may run at (`MONITOR_MIN_INTERVAL_SECONDS`). @defaultValue 30 */
  monitorMinIntervalSeconds: number;
  /** Notifications: providers' endpoints, SMTP, retry time (`loadNotifySettings`), as the workers read them. */
  notify: NotifySettings;
  /**
   * The workspaces' default quotas (`WORKSPACE_MAX_QUEUED`, `WORKSPACE_MAX_RUNNING`,
   * `WORKSPACE_STRESS_BUDGET`, `WORKSPACE_SUBMIT_RATE`, `WORKSPACE_MAX_STRESS_CONNECTIONS`; 0: no
   * limit), which an instance admin may override per workspace. @defaultValue DEFAULT_QUOTA_LIMITS
   */
  quotaLimits: QuotaLimits;
  /** The system alerts' check: how often, and when no worker, the queue and a failing channel are alerts. */
  systemAlerts: SystemAlertSettings;
}

/** What an unset variable means where that differs by how the api runs. */
export interface ApiSettingsDefaults {
  /** `TARGET_ALLOWLIST` unset. */
  targetAllowlist: string;
  /** `REGISTRATION` unset; undefined: open until the first account exists (it becomes the admin), then invite. */
  registration: RegistrationMode | undefined;
}

/**
 * The api alone: tests reach public addresses only, and registration needs an invitation (a
 * deployment reachable by strangers, whose first visitor must not become its admin).
 */
export const API_DEFAULTS: ApiSettingsDefaults = { targetAllowlist: '', registration: 'invite' };

/** The api process: where it connects and listens, and its settings. */
export interface ApiEnv extends ApiSettings {
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
}

/** Parses the api's settings (see ApiSettings); a bad value throws a ConfigError naming the variable. */
export function loadApiSettings(
  env: NodeJS.ProcessEnv = process.env,
  defaults: ApiSettingsDefaults = API_DEFAULTS,
): ApiSettings {
  return {
    targetAllowlist: envParsed(env, 'TARGET_ALLOWLIST', (raw) =>
      parseAllowlist(raw || defaults.targetAllowlist),
    ),
    acceptBatch: loadAcceptBatch(env),
    authThrottle: loadAuthThrottle(env),
    registration: envRegistration(env) ?? defaults.registration,
    trustProxy: envTrustProxy(env),
    lockDurationMs: envLockDurationMs(env),
    publicWsUrl: envParsed(env, 'PUBLIC_WS_URL', parsePublicWsUrl),
    monitorMinIntervalSeconds: envInt(env, 'MONITOR_MIN_INTERVAL_SECONDS', 30, { min: 1, max: 86_400 }),
    notify: loadNotifySettings(env),
    quotaLimits: envQuotaLimits(env),
    systemAlerts: loadSystemAlertSettings(env),
  };
}

/** `SYSTEM_ALERT_CHECK_SECONDS`, `SYSTEM_ALERT_WORKER_SILENCE_SECONDS`, `ALERT_QUEUE_AGE_SECONDS`, `SYSTEM_ALERT_CHANNEL_FAILING_SECONDS`. */
function loadSystemAlertSettings(env: NodeJS.ProcessEnv): SystemAlertSettings {
  const seconds = (name: string, fallback: number) =>
    envInt(env, name, fallback, { min: 1, max: 30 * 86_400 }) * 1000;
  return {
    checkMs: seconds('SYSTEM_ALERT_CHECK_SECONDS', 5),
    workerSilenceMs: seconds('SYSTEM_ALERT_WORKER_SILENCE_SECONDS', 60),
    queueAgeMs: seconds('ALERT_QUEUE_AGE_SECONDS', 300),
    channelFailingMs: seconds('SYSTEM_ALERT_CHANNEL_FAILING_SECONDS', 3600),
  };
}

/**
 * `PUBLIC_WS_URL`: the gateway as clients reach it. A path (the default `/ws`: the all-in-one
 * server's own, or an ingress routing it to the gateways) is kept as given for the client to append
 * to the address it reached the api at; a URL must be `ws:` or `wss:`.
 */
function parsePublicWsUrl(raw: string | undefined): string {
  const value = raw?.trim() || '/ws';
  if (value.startsWith('/') && !value.startsWith('//')) {
    if (/[?#\s]/.test(value))
      throw new Error(`a path must not hold a query, fragment or space, got "${value}"`);
    return value;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`must be a ws:// or wss:// URL or a path starting with /, got "${value}"`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:')
    throw new Error(`must be a ws:// or wss:// URL or a path starting with /, got "${value}"`);
  if (url.search || url.hash) throw new Error(`must not hold a query or fragment, got "${value}"`);
  return url.toString();
}

/** Parses the api process's configuration once, at start; a bad value throws a ConfigError naming the variable. */
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
    ...loadApiSettings(env),
  };
}

/** `REGISTRATION`: `open` (anyone), `invite` (with an administrator's invitation) or `closed`; undefined when unset. */
function envRegistration(env: NodeJS.ProcessEnv = process.env): RegistrationMode | undefined {
  const raw = envString(env, 'REGISTRATION');
  if (raw === undefined) return undefined;
  if (raw !== 'open' && raw !== 'invite' && raw !== 'closed')
    throw new ConfigError('REGISTRATION', `must be open, invite or closed, got "${raw}"`);
  return raw;
}

/** Throttling of the credential routes (README, "Accounts and sign-in"). */
function loadAuthThrottle(env: NodeJS.ProcessEnv = process.env): AuthThrottleOptions {
  return {
    accountFailures: envInt(env, 'LOGIN_THROTTLE_ACCOUNT_FAILURES', 5, { min: 1, max: 10_000 }),
    addressFailures: envInt(env, 'LOGIN_THROTTLE_ADDRESS_FAILURES', 20, { min: 1, max: 100_000 }),
    maxDelaySec: envInt(env, 'LOGIN_THROTTLE_MAX_DELAY_SEC', 60, { min: 1, max: 3600 }),
    windowSec: envInt(env, 'LOGIN_THROTTLE_WINDOW_SEC', 3600, { min: 60, max: 7 * 86_400 }),
    registrationsPerHour: envInt(env, 'REGISTER_MAX_PER_HOUR', 10, { min: 1, max: 1_000_000 }),
    apiKeysPerHour: envInt(env, 'API_KEYS_MAX_PER_HOUR', 20, { min: 1, max: 1_000_000 }),
  };
}

/**
 * Which proxies' `X-Forwarded-For` names the client: none (`false`), any (`true`), the nearest
 * `hops` proxies, or the proxies' addresses/CIDRs separated by commas. Plain data, so that two
 * loads of one value are equal; `fastifyTrustProxy` turns it into Fastify's option.
 */
export type TrustProxy = boolean | string | { hops: number };

/**
 * `TRUST_PROXY`: `false` (clients connect directly), `true` (believe any `X-Forwarded-For`), a
 * number of proxy hops, or the proxies' addresses/CIDRs separated by commas.
 */
export function envTrustProxy(env: NodeJS.ProcessEnv = process.env): TrustProxy {
  const raw = envString(env, 'TRUST_PROXY', 'false')!.trim();
  if (/^false$/i.test(raw)) return false;
  if (/^true$/i.test(raw)) return true;
  if (/^\d+$/.test(raw)) return { hops: Number(raw) };
  for (const entry of raw.split(',').map((e) => e.trim())) {
    if (!ipaddr.isValid(entry) && !ipaddr.isValidCIDR(entry))
      throw new ConfigError(
        'TRUST_PROXY',
        `"${entry}" is not an address or CIDR (or use true, false, a hop count)`,
      );
  }
  return raw;
}

/**
 * Fastify's `trustProxy` for a setting. A hop count becomes a function trusting that many hops
 * (what `TRUST_PROXY=2` promises): this Fastify, given a bare number, trusts none.
 */
export function fastifyTrustProxy(
  setting: TrustProxy,
): boolean | string | ((address: string, hop: number) => boolean) {
  if (typeof setting !== 'object') return setting;
  const { hops } = setting;
  return (_address, hop) => hop < hops;
}

/** The accept path's group commit (DESIGN.md, "Accepting a test: group commit"). */
function loadAcceptBatch(env: NodeJS.ProcessEnv = process.env) {
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
