import { describe, expect, it } from 'vitest';
import { incidentKey, runFails } from './alerts.js';

describe('runFails', () => {
  const run = (state: 'up' | 'down' | 'degraded', p95: number | null) => ({
    state,
    metrics: { 'latency.p95': { value: p95 } },
  });

  it('down: only a down run fails; degraded passes', () => {
    expect(runFails({ kind: 'down' }, run('down', 10))).toBe(true);
    expect(runFails({ kind: 'down' }, run('degraded', 10))).toBe(false);
    expect(runFails({ kind: 'down' }, run('up', 10))).toBe(false);
  });

  it('threshold: the run fails when its metric breaks the expression, or was not measured', () => {
    const slow = { kind: 'threshold' as const, expression: 'latency.p95 < 500' };
    expect(runFails(slow, run('up', 499))).toBe(false);
    expect(runFails(slow, run('up', 500))).toBe(true);
    expect(runFails(slow, run('up', null))).toBe(true);
    expect(runFails(slow, { state: 'down', metrics: null })).toBe(true);
  });

  it('an incident key names its rule and monitor', () => {
    expect(incidentKey('r1', 'm1')).toBe('crucible-r1-m1');
  });
});
