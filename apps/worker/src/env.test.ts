import { ConfigError } from '@crucible/shared';
import { describe, expect, it } from 'vitest';
import { loadWorkerEnv } from './env.js';

describe('loadWorkerEnv', () => {
  it('has defaults for a local machine', () => {
    expect(loadWorkerEnv({})).toEqual({
      redisUrl: 'redis://127.0.0.1:6379',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/postgres',
      concurrency: 5,
      prefix: 'crucible',
      healthPort: 3002,
      host: '0.0.0.0',
      metricsToken: undefined,
      logLevel: 'info',
      targetAllowlist: { hosts: new Set(), cidrs: [] },
      stressMaxConnections: 200,
      workspaceMaxStressConnections: 200,
      stressMaxDurationSec: 300,
      lockDurationMs: 30_000,
    });
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
    });
    expect([...env.targetAllowlist.hosts]).toEqual(['localhost']);
    expect(env.targetAllowlist.cidrs.map(([net, bits]) => `${net.toString()}/${bits}`)).toEqual([
      '127.0.0.0/8',
    ]);
    expect([env.stressMaxConnections, env.stressMaxDurationSec]).toEqual([50, 60]);
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
