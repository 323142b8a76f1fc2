import { isAbsolute } from 'node:path';
import { parseAllowlist } from '@crucible/egress';
import type { Allowlist } from '@crucible/egress';
import { TEST_QUEUE_NAMES } from '@crucible/contracts';
import type { TestQueueName } from '@crucible/contracts';
import { loadNotifySettings } from '@crucible/notify';
import type { NotifySettings } from '@crucible/notify';
import { DEFAULT_CHROMIUM_PATH } from './engines/browser/chromium.js';
import {
  ConfigError,
  envHost,
  envInt,
  envLockDurationMs,
  envMetricsToken,
  envParsed,
  envPrefix,
  envWorkspaceMaxRunning,
  envWorkspaceMaxStressConnections,
  envString,
  envUrl,
} from '@crucible/runtime';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * What the worker's variables mean wherever it runs: alone (`main.ts`) or inside all-in-one, which
 * calls this same loader, so one variable never means two things.
 */
export interface WorkerSettings {
  /**
   * The queues this process takes jobs from (`WORKER_QUEUES`): `tests` (every type but browser),
   * `browser` (browser tests, each a Chromium), or both.
   * @defaultValue WorkerSettingsDefaults.queues
   */
  queues: TestQueueName[];
  /** Jobs of the `tests` queue run at once by this process (`WORKER_CONCURRENCY`). @defaultValue 5 */
  concurrency: number;
  /**
   * Private hosts/ranges tests may reach (`TARGET_ALLOWLIST`); empty: public addresses only.
   * @defaultValue WorkerSettingsDefaults.targetAllowlist
   */
  targetAllowlist: Allowlist;
  /** Most connections one stress test may open (`STRESS_MAX_CONNECTIONS`). @defaultValue 200 */
  stressMaxConnections: number;
  /**
   * Connections one workspace's stress tests may hold at once (`WORKSPACE_MAX_STRESS_CONNECTIONS`);
   * a test past it waits queued. @defaultValue 200
   */
  workspaceMaxStressConnections: number;
  /** Tests one workspace runs at once (`WORKSPACE_MAX_RUNNING`; 0 → null: no cap); more wait queued. @defaultValue 10 */
  workspaceMaxRunning: number | null;
  /** Longest one stress test may run, ramp-up included (`STRESS_MAX_DURATION_SEC`). @defaultValue 300 */
  stressMaxDurationSec: number;
  /**
   * Shards one stress test may be split into (`STRESS_MAX_SHARDS`, 1–64), and shards one worker
   * process runs at once. @defaultValue 16
   */
  stressMaxShards: number;
  /** A worker silent this long is presumed lost and its tests run again elsewhere (`WORKER_LOCK_DURATION_MS`). @defaultValue 30000 */
  lockDurationMs: number;
  /** Browser tests run at once, from the `browser` queue (`BROWSER_CONCURRENCY`); each holds a Chromium. @defaultValue 1 */
  browserConcurrency: number;
  /**
   * Stress tests against one host (its resolved address) at once, across the deployment
   * (`TARGET_HOST_MAX_CONCURRENT`); more wait queued. @defaultValue 2
   */
  targetHostMaxConcurrent: number;
  /** The Chromium browser tests drive (`CHROMIUM_PATH`). @defaultValue /usr/bin/chromium */
  chromiumPath: string;
  /** Monitor runs one worker runs at once, on their own queue (`MONITOR_CONCURRENCY`). @defaultValue 5 */
  monitorConcurrency: number;
  /** Notifications the worker's dispatcher sends: providers' endpoints, SMTP, retry time (`loadNotifySettings`). */
  notify: NotifySettings;
}

/** What an unset variable means where that differs by how the worker runs. */
export interface WorkerSettingsDefaults {
  /** `TARGET_ALLOWLIST` unset. */
  targetAllowlist: string;
  /** `WORKER_QUEUES` unset. */
  queues: string;
}

/**
 * The worker alone: tests reach public addresses only, and it takes the light tests; browser tests
 * go to browser workers (`WORKER_QUEUES=browser`), which scale on their own queue.
 */
export const WORKER_DEFAULTS: WorkerSettingsDefaults = { targetAllowlist: '', queues: 'tests' };

/** `WORKER_QUEUES`: a comma-separated list of queue names, each once. */
function parseQueues(raw: string): TestQueueName[] {
  const names = raw.split(',').map((name) => name.trim());
  const known = TEST_QUEUE_NAMES as readonly string[];
  const bad = names.find((name) => !known.includes(name));
  if (bad !== undefined) throw new Error(`"${bad}" is not a queue; name ${known.join(' and/or ')}`);
  if (new Set(names).size !== names.length) throw new Error('names a queue twice');
  return names as TestQueueName[];
}

/** The worker process: where it connects and listens, and its settings. */
export interface WorkerEnv extends WorkerSettings {
  redisUrl: string;
  databaseUrl: string;
  /** Key prefix of the deployment (Redis keys, queues, channels). */
  prefix: string;
  /** Port of `/health/*` and `/metrics`. */
  healthPort: number;
  /** Interface the health port listens on (`HOST`). @defaultValue 0.0.0.0 */
  host: string;
  /** Bearer token `/metrics` asks for (`METRICS_TOKEN`). @defaultValue undefined (open) */
  metricsToken: string | undefined;
  logLevel: LogLevel;
}

/** Parses the worker's settings (see WorkerSettings); throws a ConfigError naming the bad variable. */
export function loadWorkerSettings(
  env: Record<string, string | undefined> = process.env,
  defaults: WorkerSettingsDefaults = WORKER_DEFAULTS,
): WorkerSettings {
  return {
    queues: envParsed(env, 'WORKER_QUEUES', (raw) => parseQueues(raw || defaults.queues)),
    concurrency: envInt(env, 'WORKER_CONCURRENCY', 5, { min: 1, max: 100 }),
    targetAllowlist: envParsed(env, 'TARGET_ALLOWLIST', (raw) =>
      parseAllowlist(raw || defaults.targetAllowlist),
    ),
    stressMaxConnections: envInt(env, 'STRESS_MAX_CONNECTIONS', 200, { min: 1, max: 10_000 }),
    // Quota variables the api reads too (its usage view shows them): one parser for both.
    workspaceMaxStressConnections: envWorkspaceMaxStressConnections(env),
    workspaceMaxRunning: envWorkspaceMaxRunning(env),
    stressMaxDurationSec: envInt(env, 'STRESS_MAX_DURATION_SEC', 300, { min: 1, max: 3600 }),
    stressMaxShards: envInt(env, 'STRESS_MAX_SHARDS', 16, { min: 1, max: 64 }),
    lockDurationMs: envLockDurationMs(env),
    browserConcurrency: envInt(env, 'BROWSER_CONCURRENCY', 1, { min: 1, max: 16 }),
    targetHostMaxConcurrent: envInt(env, 'TARGET_HOST_MAX_CONCURRENT', 2, { min: 1, max: 1_000 }),
    monitorConcurrency: envInt(env, 'MONITOR_CONCURRENCY', 5, { min: 1, max: 100 }),
    chromiumPath: envParsed(env, 'CHROMIUM_PATH', (raw) => {
      if (raw === undefined || raw === '') return DEFAULT_CHROMIUM_PATH;
      // A relative path would depend on the directory the worker was started from.
      if (!isAbsolute(raw)) throw new Error(`must be an absolute path to the Chromium binary, not "${raw}"`);
      return raw;
    }),
    notify: loadNotifySettings(env),
  };
}

/** Parses the worker process's configuration once, at start; throws a ConfigError naming the bad variable. */
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
    prefix: envPrefix(env),
    healthPort: envInt(env, 'WORKER_HEALTH_PORT', 3002, { min: 0, max: 65_535 }),
    host: envHost(env),
    metricsToken: envMetricsToken(env),
    logLevel: logLevel as LogLevel,
    ...loadWorkerSettings(env),
  };
}
