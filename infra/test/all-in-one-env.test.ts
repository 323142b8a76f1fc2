import { LOOPBACK_ALLOWLIST, loadAllInOneSettings } from '@crucible/all-in-one';
import { loadApiEnv, loadApiSettings } from '@crucible/api';
import { loadGatewaySettings } from '@crucible/gateway';
import { loadWorkerSettings } from '@crucible/worker';
import { describe, expect, it } from 'vitest';
import { recordReads, variablesRead } from './app-env.js';
import { APPS } from './deploy-files.js';
import type { AppName } from './deploy-files.js';

/** Each app's settings as its own `main.ts` reads them (its own defaults). */
const OWN_SETTINGS: Record<AppName, (env: NodeJS.ProcessEnv) => object> = {
  api: (env) => loadApiSettings(env),
  worker: (env) => loadWorkerSettings(env),
  gateway: (env) => loadGatewaySettings(env),
};

/**
 * A valid value other than the default for every variable an app's settings read: with all of
 * them set, a mode's defaults cannot hide a difference, and a variable all-in-one ignored would
 * show as the app's default.
 */
const NON_DEFAULT: Record<string, string> = {
  TARGET_ALLOWLIST: '10.1.2.0/24,intranet.example',
  ACCEPT_BATCH_MAX: '50',
  ACCEPT_BATCH_WINDOW_MS: '3',
  ACCEPT_BATCH_IN_FLIGHT: '2',
  LOGIN_THROTTLE_ACCOUNT_FAILURES: '7',
  LOGIN_THROTTLE_ADDRESS_FAILURES: '30',
  LOGIN_THROTTLE_MAX_DELAY_SEC: '90',
  LOGIN_THROTTLE_WINDOW_SEC: '7200',
  REGISTER_MAX_PER_HOUR: '3',
  API_KEYS_MAX_PER_HOUR: '4',
  REGISTRATION: 'closed',
  TRUST_PROXY: '2',
  PUBLIC_WS_URL: 'wss://live.crucible.example/ws',
  WORKER_LOCK_DURATION_MS: '45000',
  WORKER_QUEUES: 'browser',
  WORKER_CONCURRENCY: '9',
  STRESS_MAX_CONNECTIONS: '150',
  WORKSPACE_MAX_STRESS_CONNECTIONS: '400',
  WORKSPACE_MAX_QUEUED: '500',
  WORKSPACE_MAX_RUNNING: '4',
  WORKSPACE_STRESS_BUDGET: '360000',
  WORKSPACE_SUBMIT_RATE: '60',
  STRESS_MAX_DURATION_SEC: '120',
  STRESS_MAX_SHARDS: '12',
  BROWSER_CONCURRENCY: '2',
  TARGET_HOST_MAX_CONCURRENT: '3',
  CHROMIUM_PATH: '/opt/chromium/chrome',
  MONITOR_CONCURRENCY: '7',
  MONITOR_MIN_INTERVAL_SECONDS: '60',
  NOTIFY_RETRY_HOURS: '48',
  NOTIFY_SEND_TIMEOUT_MS: '20000',
  PUBLIC_URL: 'https://crucible.example/',
  ALERT_GROUP_WAIT_MS: '5000',
  SYSTEM_ALERT_CHECK_SECONDS: '10',
  SYSTEM_ALERT_WORKER_SILENCE_SECONDS: '120',
  ALERT_QUEUE_AGE_SECONDS: '600',
  SYSTEM_ALERT_CHANNEL_FAILING_SECONDS: '7200',
  TELEGRAM_API_URL: 'https://telegram.internal',
  PAGERDUTY_EVENTS_URL: 'https://pagerduty.internal/v2/enqueue',
  OPSGENIE_API_URL: 'https://api.eu.opsgenie.com',
  SMTP_URL: 'smtp://mail.internal:25',
  SMTP_FROM: 'Alerts <alerts@crucible.example>',
  GATEWAY_ALLOWED_ORIGINS: 'https://crucible.example',
  GATEWAY_REVALIDATE_MS: '5000',
  GATEWAY_LEASE_MS: '60000',
  GATEWAY_MAX_CONNECTIONS: '500',
  GATEWAY_MAX_CONNECTIONS_PER_USER: '3',
  GATEWAY_MAX_CHANNELS: '20',
  GATEWAY_MAX_FRAME_BYTES: '32768',
  GATEWAY_HEARTBEAT_MS: '20000',
  GATEWAY_HEARTBEAT_TIMEOUT_MS: '5000',
  GATEWAY_MAX_BUFFERED_BYTES: '1048576',
  GATEWAY_BATCH_MAX_MESSAGES: '5',
  GATEWAY_BATCH_DELAY_MS: '50',
  GATEWAY_MAX_INVALID_FRAMES: '3',
};

/**
 * What configures a process rather than the app in it: where it connects and listens, its secret,
 * how it logs and stops. all-in-one is one process and reads these for itself (its env.ts; the
 * separate processes' ports and MIGRATE_ON_START not at all: one port, always migrated).
 */
const PROCESS_VARIABLES = new Set([
  'DATABASE_URL',
  'REDIS_URL',
  'JWT_SECRET',
  'PORT',
  'GATEWAY_PORT',
  'WORKER_HEALTH_PORT',
  'HOST',
  'METRICS_TOKEN',
  'CRUCIBLE_PREFIX',
  'LOG_LEVEL',
  'LOG_FORMAT',
  'NODE_ENV',
  'MIGRATE_ON_START',
  'SHUTDOWN_TIMEOUT_MS',
]);

const SECRET = 's'.repeat(32);
const MODES = {
  embedded: {},
  'single-server': { DATABASE_URL: 'postgres://db.internal/crucible', REDIS_URL: 'redis://redis.internal' },
};

/**
 * Values that probe how a variable is parsed: words, signs, fractions and the bounds the loaders
 * use. (Empty is unset: the defaults, compared below.)
 */
const PROBES = [
  'not a value',
  '-1',
  '0',
  '1',
  '1.5',
  '100',
  '101',
  '1000',
  '3600',
  '3601',
  '10000',
  '10001',
  '65536',
  '100000',
  '100001',
  '600000',
  '600001',
  'true',
  '127.0.0.1',
  'https://a.example',
];

/** What a loader made of an environment: its settings, or the message it refused it with. */
function outcome(load: () => object): { settings: object } | { refused: string } {
  try {
    return { settings: load() };
  } catch (err) {
    return { refused: (err as Error).message };
  }
}

const settingsVariables = (app: AppName) => recordReads(OWN_SETTINGS[app], {}).read;

describe('all-in-one reads every app variable as the app does', () => {
  it.each(APPS)('%s: each variable its settings read has a non-default value in this test', (app) => {
    const variables = [...settingsVariables(app)];
    expect(variables.filter((v) => !(v in NON_DEFAULT))).toEqual([]);
    const defaults = OWN_SETTINGS[app]({});
    for (const v of variables) {
      expect(OWN_SETTINGS[app]({ [v]: NON_DEFAULT[v] }), `${v}=${NON_DEFAULT[v]}`).not.toEqual(defaults);
    }
  });

  it('has no value here for a variable no app reads (renamed or removed)', () => {
    const read = new Set(APPS.flatMap((app) => [...settingsVariables(app)]));
    expect(Object.keys(NON_DEFAULT).filter((v) => !read.has(v))).toEqual([]);
  });

  it.each(APPS)('%s: every variable its process reads is a setting or the process’s own', (app) => {
    const settings = settingsVariables(app);
    const neither = [...variablesRead(app)].filter((v) => !settings.has(v) && !PROCESS_VARIABLES.has(v));
    expect(neither, 'read by the process but neither a setting all-in-one shares nor listed above').toEqual(
      [],
    );
  });

  for (const [mode, services] of Object.entries(MODES)) {
    it.each(APPS)(`${mode}: with every variable set, all-in-one's %s settings equal the app's own`, (app) => {
      const env = { ...NON_DEFAULT, ...services, JWT_SECRET: SECRET };
      expect(loadAllInOneSettings(env)[app]).toEqual(OWN_SETTINGS[app](env));
    });
  }

  it.each(APPS)(
    '%s: whatever the value, all-in-one takes it as the app does or refuses it as the app does',
    (app) => {
      for (const v of settingsVariables(app)) {
        expect(
          outcome(() => OWN_SETTINGS[app]({ [v]: 'not a value' })),
          v,
        ).toHaveProperty('refused');
        for (const probe of PROBES) {
          const env = { ...NON_DEFAULT, JWT_SECRET: SECRET, [v]: probe };
          expect(
            outcome(() => loadAllInOneSettings(env)[app]),
            `${v}=${probe}`,
          ).toEqual(outcome(() => OWN_SETTINGS[app](env)));
        }
      }
    },
  );

  it('with nothing set, differs from the apps only in its documented defaults', () => {
    const loopback = loadWorkerSettings({ TARGET_ALLOWLIST: LOOPBACK_ALLOWLIST }).targetAllowlist;
    const embedded = loadAllInOneSettings({});
    // Notifications link to the dashboard it serves itself.
    const notify = { ...loadWorkerSettings({}).notify, publicUrl: 'http://127.0.0.1:3000' };
    // Loopback targets (a developer's own site) and registration open until the first account.
    expect(embedded.api).toEqual({
      ...loadApiSettings({}),
      targetAllowlist: loopback,
      registration: undefined,
      notify,
    });
    // One process is the whole deployment: it consumes the browser queue too.
    const bothQueues = ['tests', 'browser'];
    expect(embedded.worker).toEqual({
      ...loadWorkerSettings({}),
      targetAllowlist: loopback,
      queues: bothQueues,
      notify,
    });
    expect(embedded.gateway).toEqual(loadGatewaySettings({}));
    // On the machine's PostgreSQL and Redis tests reach public addresses only, as the apps'.
    const server = loadAllInOneSettings(MODES['single-server']);
    expect(server.api).toEqual({ ...loadApiSettings({}), registration: undefined, notify });
    expect(server.worker).toEqual({ ...loadWorkerSettings({}), queues: bothQueues, notify });
    // Its address as HOST and PORT make it.
    expect(loadAllInOneSettings({ HOST: '0.0.0.0', PORT: '8080' }).worker.notify.publicUrl).toBe(
      'http://localhost:8080',
    );
    expect(server.gateway).toEqual(loadGatewaySettings({}));
  });

  it('reads the process variables it shares with the api as the api does, and only CRUCIBLE_DATA_DIR besides', () => {
    const env = {
      ...MODES['single-server'],
      JWT_SECRET: SECRET,
      PORT: '4000',
      HOST: '10.0.0.5',
      METRICS_TOKEN: 'm'.repeat(32),
      CRUCIBLE_PREFIX: 'staging',
      LOG_LEVEL: 'debug',
    };
    const own = loadApiEnv(env);
    const allInOne = loadAllInOneSettings(env);
    const shared = ['port', 'host', 'metricsToken', 'prefix', 'logLevel', 'jwtSecret'] as const;
    expect(Object.fromEntries(shared.map((k) => [k, allInOne[k]]))).toEqual(
      Object.fromEntries(shared.map((k) => [k, own[k]])),
    );
    expect(allInOne.services).toEqual({
      mode: 'distributed',
      databaseUrl: own.databaseUrl,
      redisUrl: own.redisUrl,
    });

    const appsRead = new Set(APPS.flatMap((app) => [...variablesRead(app)]));
    const read = recordReads(loadAllInOneSettings, { JWT_SECRET: SECRET }).read;
    expect([...read].filter((v) => !appsRead.has(v))).toEqual(['CRUCIBLE_DATA_DIR']);
  });
});
