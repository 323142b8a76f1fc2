import { resolve } from 'node:path';
import { loadApiSettings } from '@crucible/api';
import type { ApiSettings, ApiSettingsDefaults } from '@crucible/api';
import { loadGatewaySettings } from '@crucible/gateway';
import type { GatewaySettings } from '@crucible/gateway';
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
import { loadWorkerSettings } from '@crucible/worker';
import type { WorkerSettings } from '@crucible/worker';

/** What embedded mode lets tests reach by default: a developer testing their own site on this machine. */
export const LOOPBACK_ALLOWLIST = '127.0.0.0/8,::1,localhost';

/** Embedded mode (nothing installed) or the machine's PostgreSQL and Redis (a single-server deployment). */
export type Services = { mode: 'embedded' } | { mode: 'distributed'; databaseUrl: string; redisUrl: string };

/**
 * The one process's configuration. Each app's variables are read by that app's own loader
 * (`api`, `worker`, `gateway`), so that they mean the same as in distributed mode; what is read
 * here is what only all-in-one has, or has other defaults for (README, "Configuration").
 */
export interface AllInOneSettings {
  /** `CRUCIBLE_DATA_DIR`, absolute: the embedded database and the generated secret. @defaultValue ./.crucible */
  dataDir: string;
  /** `JWT_SECRET`; undefined: generated once and kept in the data folder (the apps alone require it). */
  jwtSecret: string | undefined;
  /** From `DATABASE_URL` and `REDIS_URL`: both set, or neither (embedded mode). */
  services: Services;
  /** The one port of the api, the gateway (`/ws`) and `/metrics` (`PORT`); `GATEWAY_PORT` and `WORKER_HEALTH_PORT` are not read. @defaultValue 3000 */
  port: number;
  /** Interface to listen on (`HOST`). @defaultValue 127.0.0.1: this machine only (the apps alone: 0.0.0.0) */
  host: string;
  /** Bearer token `/metrics` asks for (`METRICS_TOKEN`), as the apps read it. @defaultValue undefined (open) */
  metricsToken: string | undefined;
  /** `CRUCIBLE_PREFIX`, as the apps read it. @defaultValue crucible */
  prefix: string;
  /** `LOG_LEVEL`, as the api reads it. @defaultValue info */
  logLevel: string;
  /** `TARGET_ALLOWLIST` as given, or the mode's default: what the banner says tests may reach. */
  targetAllowlistText: string;
  api: ApiSettings;
  worker: WorkerSettings;
  gateway: GatewaySettings;
}

/**
 * Parses the configuration once, at start, without touching the disk; a bad value throws a
 * ConfigError naming the variable.
 */
export function loadAllInOneSettings(env: NodeJS.ProcessEnv = process.env): AllInOneSettings {
  const databaseUrl = envUrl(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  const redisUrl = envUrl(env, 'REDIS_URL', ['redis:', 'rediss:']);
  if (databaseUrl && !redisUrl)
    throw new ConfigError('REDIS_URL', 'set it with DATABASE_URL, or unset both (embedded mode)');
  if (redisUrl && !databaseUrl)
    throw new ConfigError('DATABASE_URL', 'set it with REDIS_URL, or unset both (embedded mode)');
  const services: Services =
    databaseUrl && redisUrl ? { mode: 'distributed', databaseUrl, redisUrl } : { mode: 'embedded' };
  // A developer testing their own site on this machine: loopback is allowed unless configured. On
  // the machine's PostgreSQL and Redis (a server), public addresses only, as the apps alone.
  const targetAllowlist = services.mode === 'embedded' ? LOOPBACK_ALLOWLIST : '';
  const port = envInt(env, 'PORT', 3000, { min: 0, max: 65535 });
  // Only this machine's browser reaches it unless HOST opens it to the network.
  const host = envHost(env, '127.0.0.1');
  // The dashboard is served here: notifications link to it unless PUBLIC_URL says where else.
  const apps = { ...env, PUBLIC_URL: env.PUBLIC_URL || ownUrl(host, port) };
  const defaults: ApiSettingsDefaults = {
    targetAllowlist,
    // One person's tool: whoever starts it creates the first account, the admin; then invitations.
    registration: undefined,
  };
  return {
    dataDir: resolve(envString(env, 'CRUCIBLE_DATA_DIR', '.crucible')!),
    jwtSecret: envSecret(env, 'JWT_SECRET'),
    services,
    port,
    host,
    metricsToken: envMetricsToken(env),
    prefix: envPrefix(env),
    logLevel: envString(env, 'LOG_LEVEL', 'info')!,
    targetAllowlistText: envString(env, 'TARGET_ALLOWLIST', targetAllowlist)!,
    api: loadApiSettings(apps, defaults),
    // One process is the whole deployment: it runs the browser tests too.
    worker: loadWorkerSettings(apps, { ...defaults, queues: 'tests,browser' }),
    gateway: loadGatewaySettings(env),
  };
}

/** The process's own address as a browser on this machine reaches it (every interface: localhost). */
export function ownUrl(host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${shown}:${port}`;
}
