import {
  ConfigError,
  envHost,
  envInt,
  envMetricsToken,
  envPrefix,
  envSecret,
  envString,
  envUrl,
} from '@crucible/runtime';

type Env = Record<string, string | undefined>;

/** Bounds that protect one gateway process from one client, one user, or all of them together. */
export interface GatewayLimits {
  /** Open sockets this process accepts; further upgrades answer 503. @defaultValue 10000 */
  maxConnections: number;
  /** Open sockets per user across every gateway; further upgrades answer 429. @defaultValue 10 */
  maxConnectionsPerUser: number;
  /** Channels one connection may be subscribed to at once. @defaultValue 50 */
  maxChannelsPerConnection: number;
  /** Largest client frame in bytes; a bigger one closes the socket with 1009. @defaultValue 65536 */
  maxFrameBytes: number;
  /** Interval between protocol pings. @defaultValue 30000 */
  heartbeatMs: number;
  /** How long a peer may take to answer a ping before it is terminated. @defaultValue 10000 */
  heartbeatTimeoutMs: number;
  /** Bytes queued for one socket before it counts as a slow consumer and is closed with 4008. @defaultValue 4194304 */
  maxBufferedBytes: number;
  /** Most channel messages in one `batch` frame. @defaultValue 10 */
  batchMaxMessages: number;
  /** Longest a NORMAL or LOW message waits for others to share its frame. @defaultValue 100 */
  batchDelayMs: number;
  /** Invalid frames tolerated per minute before the socket is closed with 1008. @defaultValue 10 */
  maxInvalidFrames: number;
}

export const DEFAULT_LIMITS: GatewayLimits = {
  maxConnections: 10_000,
  maxConnectionsPerUser: 10,
  maxChannelsPerConnection: 50,
  maxFrameBytes: 64 * 1024,
  heartbeatMs: 30_000,
  heartbeatTimeoutMs: 10_000,
  maxBufferedBytes: 4 * 1024 * 1024,
  batchMaxMessages: 10,
  batchDelayMs: 100,
  maxInvalidFrames: 10,
};

/**
 * What the gateway's variables mean wherever it runs: alone (`main.ts`) or mounted at /ws by
 * all-in-one, which calls this same loader, so one variable never means two things.
 */
export interface GatewaySettings {
  /** Origins allowed to open a socket (`GATEWAY_ALLOWED_ORIGINS`); empty allows any (non-browser clients send none). */
  allowedOrigins: string[];
  /** How often sockets opened with an API key check that it was not revoked. @defaultValue 15000 */
  revalidateMs: number;
  /**
   * How long a socket's place (and its user's presence) outlives a gateway that died without
   * releasing it; renewed every third of it. @defaultValue 30000
   */
  leaseMs: number;
  limits: GatewayLimits;
}

/** The gateway process: where it connects and listens, and its settings. */
export interface GatewayEnv extends GatewaySettings {
  port: number;
  /** Interface to listen on (`HOST`). @defaultValue 0.0.0.0 */
  host: string;
  /** Bearer token `/metrics` asks for (`METRICS_TOKEN`). @defaultValue undefined (open) */
  metricsToken: string | undefined;
  redisUrl: string;
  databaseUrl: string;
  jwtSecret: string;
  prefix: string;
  logLevel: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Parses the gateway's settings (see GatewaySettings); throws a ConfigError naming the bad variable. */
export function loadGatewaySettings(env: Env = process.env): GatewaySettings {
  const heartbeatMs = envInt(env, 'GATEWAY_HEARTBEAT_MS', DEFAULT_LIMITS.heartbeatMs, { min: 1_000 });
  return {
    allowedOrigins: parseOrigins(env),
    revalidateMs: envInt(env, 'GATEWAY_REVALIDATE_MS', 15_000, { min: 1_000, max: 30_000 }),
    leaseMs: envInt(env, 'GATEWAY_LEASE_MS', 30_000, { min: 1_000, max: 300_000 }),
    limits: {
      maxConnections: envInt(env, 'GATEWAY_MAX_CONNECTIONS', DEFAULT_LIMITS.maxConnections, { min: 1 }),
      maxConnectionsPerUser: envInt(
        env,
        'GATEWAY_MAX_CONNECTIONS_PER_USER',
        DEFAULT_LIMITS.maxConnectionsPerUser,
        {
          min: 1,
        },
      ),
      maxChannelsPerConnection: envInt(env, 'GATEWAY_MAX_CHANNELS', DEFAULT_LIMITS.maxChannelsPerConnection, {
        min: 1,
      }),
      maxFrameBytes: envInt(env, 'GATEWAY_MAX_FRAME_BYTES', DEFAULT_LIMITS.maxFrameBytes, {
        min: 1024,
        max: 16 * 1024 * 1024,
      }),
      heartbeatMs,
      heartbeatTimeoutMs: envInt(env, 'GATEWAY_HEARTBEAT_TIMEOUT_MS', DEFAULT_LIMITS.heartbeatTimeoutMs, {
        min: 1_000,
      }),
      maxBufferedBytes: envInt(env, 'GATEWAY_MAX_BUFFERED_BYTES', DEFAULT_LIMITS.maxBufferedBytes, {
        min: 65_536,
      }),
      batchMaxMessages: envInt(env, 'GATEWAY_BATCH_MAX_MESSAGES', DEFAULT_LIMITS.batchMaxMessages, {
        min: 1,
        max: 1_000,
      }),
      batchDelayMs: envInt(env, 'GATEWAY_BATCH_DELAY_MS', DEFAULT_LIMITS.batchDelayMs, {
        min: 0,
        max: 10_000,
      }),
      maxInvalidFrames: envInt(env, 'GATEWAY_MAX_INVALID_FRAMES', DEFAULT_LIMITS.maxInvalidFrames, {
        min: 1,
      }),
    },
  };
}

/** Parses the gateway process's configuration once, at start; throws a ConfigError naming the bad variable. */
export function loadGatewayEnv(env: Env = process.env): GatewayEnv {
  const jwtSecret = envSecret(env, 'JWT_SECRET');
  // Distributed mode has no place to persist a generated secret, and api and gateway must agree on it.
  if (jwtSecret === undefined) throw new ConfigError('JWT_SECRET', 'is required (at least 32 characters)');
  const logLevel = envString(env, 'LOG_LEVEL', 'info')!;
  if (!LOG_LEVELS.includes(logLevel))
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  return {
    port: envInt(env, 'GATEWAY_PORT', 3001, { min: 0, max: 65_535 }),
    host: envHost(env),
    metricsToken: envMetricsToken(env),
    redisUrl: envUrl(env, 'REDIS_URL', ['redis:', 'rediss:']) ?? 'redis://127.0.0.1:6379',
    databaseUrl:
      envUrl(env, 'DATABASE_URL', ['postgres:', 'postgresql:']) ??
      'postgres://postgres@127.0.0.1:5432/postgres',
    jwtSecret,
    prefix: envPrefix(env),
    logLevel,
    ...loadGatewaySettings(env),
  };
}

function parseOrigins(env: Env): string[] {
  const raw = envString(env, 'GATEWAY_ALLOWED_ORIGINS');
  if (raw === undefined) return [];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return new URL(s).origin;
      } catch {
        throw new ConfigError('GATEWAY_ALLOWED_ORIGINS', `"${s}" is not an origin (scheme://host[:port])`);
      }
    });
}
