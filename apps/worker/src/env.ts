import {
  ConfigError,
  envHost,
  envInt,
  envMetricsToken,
  envPrefix,
  envString,
  envUrl,
} from '@crucible/shared';
import { envAllowlist } from '@crucible/shared/egress';
import type { Allowlist } from '@crucible/shared/egress';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface WorkerEnv {
  redisUrl: string;
  databaseUrl: string;
  /** Jobs run at once by this process. */
  concurrency: number;
  /** Key prefix of the deployment (Redis keys, queues, channels). */
  prefix: string;
  /** Port of `/health/*` and `/metrics`. */
  healthPort: number;
  /** Interface the health port listens on (`HOST`). @defaultValue 0.0.0.0 */
  host: string;
  /** Bearer token `/metrics` asks for (`METRICS_TOKEN`). @defaultValue undefined (open) */
  metricsToken: string | undefined;
  logLevel: LogLevel;
  /** Private hosts/ranges tests may reach (`TARGET_ALLOWLIST`); empty: public addresses only. */
  targetAllowlist: Allowlist;
  /** Most connections one stress test may open (`STRESS_MAX_CONNECTIONS`). @defaultValue 200 */
  stressMaxConnections: number;
  /**
   * Connections one workspace's (until workspaces exist: one user's) stress tests may hold at once
   * (`WORKSPACE_MAX_STRESS_CONNECTIONS`); a test past it waits queued. @defaultValue 200
   */
  workspaceMaxStressConnections: number;
  /** Longest one stress test may run, ramp-up included (`STRESS_MAX_DURATION_SEC`). @defaultValue 300 */
  stressMaxDurationSec: number;
  /** A worker silent this long is presumed lost and its tests run again elsewhere. */
  lockDurationMs: number;
}

/** Parses the worker's configuration once, at start; throws a ConfigError naming the bad variable. */
export function loadWorkerEnv(env: Record<string, string | undefined> = process.env): WorkerEnv {
  const logLevel = envString(env, 'LOG_LEVEL', 'info')!;
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  }
  return {
    redisUrl: envUrl(env, 'REDIS_URL', ['redis:', 'rediss:']) ?? 'redis://127.0.0.1:6379',
    databaseUrl:
      envUrl(env, 'DATABASE_URL', ['postgres:', 'postgresql:']) ??
      'postgres://postgres@127.0.0.1:5432/postgres',
    concurrency: envInt(env, 'WORKER_CONCURRENCY', 5, { min: 1, max: 100 }),
    prefix: envPrefix(env),
    healthPort: envInt(env, 'WORKER_HEALTH_PORT', 3002, { min: 0, max: 65_535 }),
    host: envHost(env),
    metricsToken: envMetricsToken(env),
    logLevel: logLevel as LogLevel,
    targetAllowlist: envAllowlist(env),
    stressMaxConnections: envInt(env, 'STRESS_MAX_CONNECTIONS', 200, { min: 1, max: 10_000 }),
    workspaceMaxStressConnections: envInt(env, 'WORKSPACE_MAX_STRESS_CONNECTIONS', 200, {
      min: 1,
      max: 100_000,
    }),
    stressMaxDurationSec: envInt(env, 'STRESS_MAX_DURATION_SEC', 300, { min: 1, max: 3600 }),
    lockDurationMs: envInt(env, 'WORKER_LOCK_DURATION_MS', 30_000, { min: 1_000, max: 600_000 }),
  };
}
