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
