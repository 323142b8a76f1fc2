import { ConfigError } from '@crucible/runtime';
import { describe, expect, it } from 'vitest';
import { loadApiEnv } from './env.js';

const SECRET = 's'.repeat(32);

describe('loadApiEnv', () => {
  it('reads the workspaces’ default quotas: 1,000 queued, 10 running, 720,000 stress connection-seconds a day, 120 submissions a minute; 0 is no limit', () => {
    expect(loadApiEnv({ JWT_SECRET: SECRET }).quotaLimits).toEqual({
      queued: 1_000,
      running: 10,
      stressBudget: 720_000,
      submitRate: 120,
      stressConnections: 200,
    });
    const set = loadApiEnv({
      JWT_SECRET: SECRET,
      WORKSPACE_MAX_QUEUED: '0',
      WORKSPACE_MAX_RUNNING: '3',
      WORKSPACE_STRESS_BUDGET: '5000',
      WORKSPACE_SUBMIT_RATE: '0',
      WORKSPACE_MAX_STRESS_CONNECTIONS: '50',
    }).quotaLimits;
    expect(set).toEqual({
      queued: null,
      running: 3,
      stressBudget: 5_000,
      submitRate: null,
      stressConnections: 50,
    });
    for (const name of [
      'WORKSPACE_MAX_QUEUED',
      'WORKSPACE_MAX_RUNNING',
      'WORKSPACE_STRESS_BUDGET',
      'WORKSPACE_SUBMIT_RATE',
    ]) {
      expect(() => loadApiEnv({ JWT_SECRET: SECRET, [name]: '-1' }), name).toThrow(
        new ConfigError(name, 'must be at least 0'),
      );
    }
    expect(() => loadApiEnv({ JWT_SECRET: SECRET, WORKSPACE_MAX_STRESS_CONNECTIONS: '0' })).toThrow(
      new ConfigError('WORKSPACE_MAX_STRESS_CONNECTIONS', 'must be at least 1'),
    );
  });

  it('reads the workers’ lock duration, after which a running test is shown stalled, as the workers do', () => {
    expect(loadApiEnv({ JWT_SECRET: SECRET }).lockDurationMs).toBe(30_000);
    expect(loadApiEnv({ JWT_SECRET: SECRET, WORKER_LOCK_DURATION_MS: '4000' }).lockDurationMs).toBe(4_000);
    expect(() => loadApiEnv({ JWT_SECRET: SECRET, WORKER_LOCK_DURATION_MS: '10' })).toThrow(
      new ConfigError('WORKER_LOCK_DURATION_MS', 'must be at least 1000'),
    );
  });

  it('reads where clients are told the gateway is: a path on its own address by default, or a ws(s) URL', () => {
    const publicWsUrl = (value?: string) =>
      loadApiEnv({ JWT_SECRET: SECRET, ...(value === undefined ? {} : { PUBLIC_WS_URL: value }) })
        .publicWsUrl;
    expect(publicWsUrl()).toBe('/ws');
    expect(publicWsUrl('')).toBe('/ws');
    expect(publicWsUrl('/live/ws')).toBe('/live/ws');
    expect(publicWsUrl('ws://127.0.0.1:3001/ws')).toBe('ws://127.0.0.1:3001/ws');
    expect(publicWsUrl('wss://live.crucible.example')).toBe('wss://live.crucible.example/');
    for (const bad of ['https://crucible.example/ws', 'live', '//host/ws', 'ws://h/ws?token=x', '/ws?x=1']) {
      expect(() => publicWsUrl(bad), bad).toThrow(ConfigError);
    }
    expect(() => publicWsUrl('https://crucible.example/ws')).toThrow(/PUBLIC_WS_URL.*ws:\/\/ or wss:\/\//);
  });
});
