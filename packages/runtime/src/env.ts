import { DEFAULT_QUOTA_LIMITS } from '@crucible/contracts';
import type { QuotaLimits } from '@crucible/contracts';
import { ExitCodes } from './process.js';
import type { LogFormat } from './logger.js';

/** Invalid configuration stops the process at start with a message naming the variable. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

type Env = Record<string, string | undefined>;

export function envString(env: Env, name: string, fallback?: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? fallback : v;
}

export function envInt(
  env: Env,
  name: string,
  fallback: number,
  range: { min?: number; max?: number } = {},
): number {
  const raw = envString(env, name);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(name, `expected an integer, got "${raw}"`);
  const n = Number(raw);
  if (range.min !== undefined && n < range.min) throw new ConfigError(name, `must be at least ${range.min}`);
  if (range.max !== undefined && n > range.max) throw new ConfigError(name, `must be at most ${range.max}`);
  return n;
}

export function envUrl(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = envString(env, name);
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}`);
  }
  return raw;
}

/**
 * A variable read by a library's own parser (e.g. `parseAllowlist` of @crucible/egress): what the
 * parser throws becomes a ConfigError naming the variable. The raw value is passed as is, unset included.
 */
export function envParsed<T>(env: Env, name: string, parse: (raw: string | undefined) => T): T {
  try {
    return parse(env[name]);
  } catch (err) {
    throw new ConfigError(name, (err as Error).message);
  }
}

export function envSecret(env: Env, name: string): string | undefined {
  const raw = envString(env, name);
  if (raw !== undefined && raw.length < 32) throw new ConfigError(name, 'must be at least 32 characters');
  return raw;
}

/** `HOST`: the interface an app listens on. @defaultValue `fallback`: 0.0.0.0 (every IPv4 interface) */
export function envHost(env: Env, fallback = '0.0.0.0'): string {
  return envString(env, 'HOST', fallback)!;
}

/**
 * `METRICS_TOKEN`: when set, `/metrics` answers only `Authorization: Bearer <token>`.
 * @defaultValue undefined (`/metrics` open to anyone who reaches the port)
 */
export function envMetricsToken(env: Env): string | undefined {
  return envSecret(env, 'METRICS_TOKEN');
}

/**
 * `WORKER_LOCK_DURATION_MS`: a worker silent this long is presumed lost and its tests run again;
 * the API shows a running test not written for this long as stalled. Read by workers, the API and
 * all-in-one alike, so that the two agree. @defaultValue 30000 (BullMQ's lock duration)
 */
export function envLockDurationMs(env: Env): number {
  return envInt(env, 'WORKER_LOCK_DURATION_MS', 30_000, { min: 1_000, max: 600_000 });
}

/** A quota variable: a limit, or 0 for none (null). */
const envQuota = (env: Env, name: string, fallback: number, max: number) =>
  envInt(env, name, fallback, { min: 0, max }) || null;

/** `WORKSPACE_MAX_RUNNING`: tests one workspace runs at once; 0: no cap. Read by the api and the workers. */
export function envWorkspaceMaxRunning(env: Env): number | null {
  return envQuota(env, 'WORKSPACE_MAX_RUNNING', DEFAULT_QUOTA_LIMITS.running!, 100_000);
}

/**
 * `WORKSPACE_MAX_STRESS_CONNECTIONS`: connections one workspace's running stress tests hold
 * together; always a cap (at least 1), as before workspaces. Read by the api and the workers.
 */
export function envWorkspaceMaxStressConnections(env: Env): number {
  return envInt(env, 'WORKSPACE_MAX_STRESS_CONNECTIONS', DEFAULT_QUOTA_LIMITS.stressConnections!, {
    min: 1,
    max: 100_000,
  });
}

/**
 * The deployment's default workspace quotas (DESIGN.md, "Quotas"); 0 means no limit (null). The api
 * reads them all; the workers the two they hold tests to (running, stress connections).
 */
export function envQuotaLimits(env: Env): QuotaLimits {
  const d = DEFAULT_QUOTA_LIMITS;
  return {
    queued: envQuota(env, 'WORKSPACE_MAX_QUEUED', d.queued!, 10_000_000),
    running: envWorkspaceMaxRunning(env),
    stressBudget: envQuota(env, 'WORKSPACE_STRESS_BUDGET', d.stressBudget!, 1_000_000_000),
    submitRate: envQuota(env, 'WORKSPACE_SUBMIT_RATE', d.submitRate!, 100_000_000),
    stressConnections: envWorkspaceMaxStressConnections(env),
  };
}

/** Key prefix for every Redis key and queue of one deployment (lets tests and tenants share a Redis). */
export function envPrefix(env: Env): string {
  const raw = envString(env, 'CRUCIBLE_PREFIX', 'crucible')!;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(raw))
    throw new ConfigError('CRUCIBLE_PREFIX', 'letters, digits, - and _ only');
  return raw;
}

/** Runs a config loader; a ConfigError is an operator's mistake: print which variable, exit 78, no stack. */
export function loadConfigOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`invalid configuration: ${err.message}`);
    process.exit(ExitCodes.CONFIG);
  }
}

export function envBool(env: Env, name: string, fallback: boolean): boolean {
  const raw = envString(env, name);
  if (raw === undefined) return fallback;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

/** Settings every process reads the same way (DESIGN.md, "Deployment"). */
export interface ProcessEnv {
  /** `json` (one object per line) or `pretty` (pino-pretty). @defaultValue json in production or when stdout is not a terminal */
  logFormat: LogFormat;
  /** Apply pending migrations at start; false when a one-shot migrate job does it. @defaultValue true */
  migrateOnStart: boolean;
  /** Bound of the SIGTERM drain: in-flight work gets this long before it is cut short. */
  shutdownTimeoutMs: number;
}

/** `LOG_FORMAT`: json in production or when stdout is not a terminal, pretty otherwise. */
export function envLogFormat(env: Env): LogFormat {
  const production = envString(env, 'NODE_ENV') === 'production';
  const format = envString(env, 'LOG_FORMAT', production || !process.stdout.isTTY ? 'json' : 'pretty')!;
  if (format !== 'json' && format !== 'pretty') throw new ConfigError('LOG_FORMAT', 'must be json or pretty');
  return format;
}

export function loadProcessEnv(env: Env, defaults: { shutdownTimeoutMs: number }): ProcessEnv {
  return {
    logFormat: envLogFormat(env),
    migrateOnStart: envBool(env, 'MIGRATE_ON_START', true),
    shutdownTimeoutMs: envInt(env, 'SHUTDOWN_TIMEOUT_MS', defaults.shutdownTimeoutMs, {
      min: 1_000,
      max: 3_600_000,
    }),
  };
}
