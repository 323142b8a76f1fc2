import { ConfigError } from '@crucible/runtime';
import { describe, expect, it } from 'vitest';
import { loadWorkerEnv } from './env.js';

describe('loadWorkerEnv', () => {
  it('has defaults for a local machine', () => {
    expect(loadWorkerEnv({})).toEqual({
      redisUrl: 'redis://127.0.0.1:6379',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/postgres',
      queues: ['tests'],
      concurrency: 5,
      prefix: 'crucible',
      healthPort: 3002,
      host: '0.0.0.0',
      metricsToken: undefined,
      logLevel: 'info',
      targetAllowlist: { hosts: new Set(), cidrs: [] },
      stressMaxConnections: 200,
      workspaceMaxStressConnections: 200,
      workspaceMaxRunning: 10,
      stressMaxDurationSec: 300,
      stressMaxShards: 16,
      lockDurationMs: 30_000,
      browserConcurrency: 1,
      targetHostMaxConcurrent: 2,
      chromiumPath: '/usr/bin/chromium',
      monitorConcurrency: 5,
      notify: {
        retryHours: 24,
        telegramApiUrl: 'https://api.telegram.org',
        pagerdutyEventsUrl: 'https://events.pagerduty.com/v2/enqueue',
        opsgenieApiUrl: 'https://api.opsgenie.com',
        smtpUrl: undefined,
        smtpFrom: 'Crucible <crucible@localhost>',
        alertGroupWaitMs: 30_000,
        sendTimeoutMs: 15_000,
      },
    });
  });

  it('reads the notification variables, refusing what they cannot mean', () => {
    const env = loadWorkerEnv({
      NOTIFY_RETRY_HOURS: '48',
      NOTIFY_SEND_TIMEOUT_MS: '5000',
      OPSGENIE_API_URL: 'https://api.eu.opsgenie.com/',
      SMTP_URL: 'smtps://user:pass@mail.example:465',
      SMTP_FROM: 'alerts@example.com',
    });
    expect(env.notify).toMatchObject({
      retryHours: 48,
      sendTimeoutMs: 5_000,
      opsgenieApiUrl: 'https://api.eu.opsgenie.com',
      smtpUrl: 'smtps://user:pass@mail.example:465',
      smtpFrom: 'alerts@example.com',
    });
    expect(() => loadWorkerEnv({ NOTIFY_RETRY_HOURS: '0' })).toThrow(
      new ConfigError('NOTIFY_RETRY_HOURS', 'must be at least 1'),
    );
    expect(() => loadWorkerEnv({ NOTIFY_SEND_TIMEOUT_MS: '500' })).toThrow(
      new ConfigError('NOTIFY_SEND_TIMEOUT_MS', 'must be at least 1000'),
    );
    expect(() => loadWorkerEnv({ SMTP_URL: 'http://mail.example' })).toThrow(
      new ConfigError('SMTP_URL', 'must use smtp: or smtps:'),
    );
    expect(() => loadWorkerEnv({ SMTP_FROM: 'not a value' })).toThrow(/^SMTP_FROM: must be an address/);
  });

  it('reads the interface to listen on and the metrics token, which must be hard to guess', () => {
    const env = loadWorkerEnv({ HOST: '127.0.0.1', METRICS_TOKEN: 't'.repeat(32) });
    expect([env.host, env.metricsToken]).toEqual(['127.0.0.1', 't'.repeat(32)]);
    expect(() => loadWorkerEnv({ METRICS_TOKEN: 'short' })).toThrow(
      new ConfigError('METRICS_TOKEN', 'must be at least 32 characters'),
    );
  });

  it('reads the target allowlist and the stress limits', () => {
    const env = loadWorkerEnv({
      TARGET_ALLOWLIST: '127.0.0.0/8,localhost',
      STRESS_MAX_CONNECTIONS: '50',
      STRESS_MAX_DURATION_SEC: '60',
      STRESS_MAX_SHARDS: '8',
    });
    expect([...env.targetAllowlist.hosts]).toEqual(['localhost']);
    expect(env.targetAllowlist.cidrs.map(([net, bits]) => `${net.toString()}/${bits}`)).toEqual([
      '127.0.0.0/8',
    ]);
    expect([env.stressMaxConnections, env.stressMaxDurationSec, env.stressMaxShards]).toEqual([50, 60, 8]);
    expect(loadWorkerEnv({}).stressMaxShards).toBe(16);
    expect(() => loadWorkerEnv({ STRESS_MAX_SHARDS: '65' })).toThrow('STRESS_MAX_SHARDS: must be at most 64');
  });

  it('reads the queues it consumes: the light tests, the browser tests, or both', () => {
    expect(loadWorkerEnv({ WORKER_QUEUES: 'browser' }).queues).toEqual(['browser']);
    expect(loadWorkerEnv({ WORKER_QUEUES: 'tests, browser' }).queues).toEqual(['tests', 'browser']);
    expect(() => loadWorkerEnv({ WORKER_QUEUES: 'tests,chrome' })).toThrow(
      'WORKER_QUEUES: "chrome" is not a queue; name tests and/or browser',
    );
    expect(() => loadWorkerEnv({ WORKER_QUEUES: 'browser,browser' })).toThrow(
      'WORKER_QUEUES: names a queue twice',
    );
  });

  it('names the bad variable', () => {
    expect(() => loadWorkerEnv({ WORKER_CONCURRENCY: '0' })).toThrow(
      'WORKER_CONCURRENCY: must be at least 1',
    );
    expect(() => loadWorkerEnv({ WORKER_CONCURRENCY: '101' })).toThrow(
      'WORKER_CONCURRENCY: must be at most 100',
    );
    expect(() => loadWorkerEnv({ REDIS_URL: 'http://x' })).toThrow('REDIS_URL: must use redis: or rediss:');
    expect(() => loadWorkerEnv({ LOG_LEVEL: 'loud' })).toThrow(ConfigError);
    expect(() => loadWorkerEnv({ TARGET_ALLOWLIST: '10.0.0.0/40' })).toThrow(
      'TARGET_ALLOWLIST: "10.0.0.0/40" is not a valid CIDR',
    );
    expect(() => loadWorkerEnv({ STRESS_MAX_CONNECTIONS: '0' })).toThrow(
      'STRESS_MAX_CONNECTIONS: must be at least 1',
    );
    expect(() => loadWorkerEnv({ WORKER_HEALTH_PORT: 'x' })).toThrow(
      'WORKER_HEALTH_PORT: expected an integer, got "x"',
    );
    expect(() => loadWorkerEnv({ WORKER_LOCK_DURATION_MS: '10' })).toThrow(
      'WORKER_LOCK_DURATION_MS: must be at least 1000',
    );
  });
});
