import { describe, expect, it } from 'vitest';
import { estimate } from './estimate.js';

const NOW = Date.parse('2026-12-05T12:00:00Z');
const ago = (sec: number) => new Date(NOW - sec * 1000);
const noHistory = { aheadByType: {}, running: [], meanSecByType: {} };

describe('estimate of a running test', () => {
  it('gives a stress test its duration plus ramp-up, whatever its progress', () => {
    // 42 % of a 12-s test, 5 s in: 7 s left (it used to say ~30 s, the default mean).
    const row = {
      status: 'running' as const,
      test_type: 'stress' as const,
      started_at: ago(5),
      updated_at: ago(1),
      progress: 42,
      config: { durationSec: 10, rampUpSec: 2 },
    };
    expect(estimate(row, noHistory, 5, { now: NOW })).toEqual({
      queuePosition: null,
      etaSeconds: 7,
      stalled: false,
    });
    // A 60-s test 37 s in: 23 s left, from its own duration, not the mean of other tests.
    const long = { ...row, started_at: ago(37), config: { durationSec: 60 } };
    expect(estimate(long, { ...noHistory, meanSecByType: { stress: 12 } }, 5, { now: NOW }).etaSeconds).toBe(
      23,
    );
  });

  it('runs a performance test at the pace of its iterations so far', () => {
    // 2 of 4 iterations in 6 s: 2 more at 3 s each.
    const row = {
      status: 'running' as const,
      test_type: 'performance' as const,
      started_at: ago(6),
      updated_at: ago(0),
      progress: 50,
      config: { iterations: 4 },
    };
    expect(estimate(row, noHistory, 5, { now: NOW }).etaSeconds).toBe(6);
    // Before any iteration: the type's recent mean, less the time already spent.
    expect(
      estimate({ ...row, progress: 0 }, { ...noHistory, meanSecByType: { performance: 10 } }, 5, { now: NOW })
        .etaSeconds,
    ).toBe(4);
  });

  it('never says 0 s while it runs, and says stalled once nothing was written for the lock duration', () => {
    const row = {
      status: 'running' as const,
      test_type: 'stress' as const,
      started_at: ago(40),
      updated_at: ago(29),
      progress: 99,
      config: { durationSec: 10 },
    };
    expect(estimate(row, noHistory, 5, { now: NOW })).toEqual({
      queuePosition: null,
      etaSeconds: 1,
      stalled: false,
    });
    expect(estimate({ ...row, updated_at: ago(30) }, noHistory, 5, { now: NOW })).toEqual({
      queuePosition: null,
      etaSeconds: null,
      stalled: true,
    });
    expect(
      estimate({ ...row, updated_at: ago(10) }, noHistory, 5, { now: NOW, stalledAfterMs: 5_000 }).stalled,
    ).toBe(true);
  });
});

describe('estimate of a queued test', () => {
  it('sums the work ahead over the capacity, plus its own mean', () => {
    const row = { status: 'queued' as const, test_type: 'api' as const, started_at: null };
    const snapshot = {
      aheadByType: { performance: 2, stress: 1 },
      running: [{ testType: 'api' as const, elapsedSec: 5 }],
      meanSecByType: { performance: 10, stress: 20, api: 15 },
    };
    // (2×10 + 1×20 + (15−5)) / 2 + 15 = 40
    expect(estimate(row, snapshot, 2, { now: NOW })).toEqual({
      queuePosition: 4,
      etaSeconds: 40,
      stalled: false,
    });
    expect(estimate(row, snapshot, 0, { now: NOW }).etaSeconds).toBeNull();
  });
});
