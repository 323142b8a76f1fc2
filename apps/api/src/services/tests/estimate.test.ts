import { describe, expect, it } from 'vitest';
import { capacityOf, estimate } from './estimate.js';

const NOW = Date.parse('2026-12-05T12:00:00Z');
const ago = (sec: number) => new Date(NOW - sec * 1000);
const noHistory = { aheadByType: {}, running: [], meanSecByType: {} };
/** `n` slots on the light queue, none on the browser queue. */
const cap = (n: number) => ({ tests: n, browser: 0 });

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
    expect(estimate(row, noHistory, cap(5), { now: NOW })).toEqual({
      queuePosition: null,
      etaSeconds: 7,
      stalled: false,
    });
    // A 60-s test 37 s in: 23 s left, from its own duration, not the mean of other tests.
    const long = { ...row, started_at: ago(37), config: { durationSec: 60 } };
    expect(
      estimate(long, { ...noHistory, meanSecByType: { stress: 12 } }, cap(5), { now: NOW }).etaSeconds,
    ).toBe(23);
  });

  it('gives a stress test of several runs each run’s duration (issue 21)', () => {
    // 3 runs of 10 s, 5 s in: 25 s left.
    const row = {
      status: 'running' as const,
      test_type: 'stress' as const,
      started_at: ago(5),
      updated_at: ago(1),
      progress: 10,
      config: { durationSec: 10 },
      judging: { thresholds: [], runs: 3 },
    };
    expect(estimate(row, noHistory, cap(5), { now: NOW }).etaSeconds).toBe(25);
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
    expect(estimate(row, noHistory, cap(5), { now: NOW }).etaSeconds).toBe(6);
    // Before any iteration: the type's recent mean, less the time already spent.
    expect(
      estimate({ ...row, progress: 0 }, { ...noHistory, meanSecByType: { performance: 10 } }, cap(5), {
        now: NOW,
      }).etaSeconds,
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
    expect(estimate(row, noHistory, cap(5), { now: NOW })).toEqual({
      queuePosition: null,
      etaSeconds: 1,
      stalled: false,
    });
    expect(estimate({ ...row, updated_at: ago(30) }, noHistory, cap(5), { now: NOW })).toEqual({
      queuePosition: null,
      etaSeconds: null,
      stalled: true,
    });
    expect(
      estimate({ ...row, updated_at: ago(10) }, noHistory, cap(5), { now: NOW, stalledAfterMs: 5_000 })
        .stalled,
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
    expect(estimate(row, snapshot, cap(2), { now: NOW })).toEqual({
      queuePosition: 4,
      etaSeconds: 40,
      stalled: false,
    });
    expect(estimate(row, snapshot, cap(0), { now: NOW }).etaSeconds).toBeNull();
  });
});

describe('estimate of a browser test', () => {
  const snapshot = {
    aheadByType: { performance: 4, browser: 1 },
    running: [
      { testType: 'api' as const, elapsedSec: 1 },
      { testType: 'browser' as const, elapsedSec: 20 },
    ],
    meanSecByType: { performance: 10, api: 10, browser: 60 },
  };
  const row = { status: 'queued' as const, test_type: 'browser' as const, started_at: null };

  it('counts only the browser queue: its tests ahead, its running tests, its workers', () => {
    // (1×60 + (60−20)) / 1 + 60 = 160; the light tests and their five slots do not count.
    expect(estimate(row, snapshot, { tests: 5, browser: 1 }, { now: NOW })).toEqual({
      queuePosition: 2,
      etaSeconds: 160,
      stalled: false,
    });
  });

  it('has no ETA without a browser worker, however many light workers there are', () => {
    expect(estimate(row, snapshot, { tests: 10, browser: 0 }, { now: NOW }).etaSeconds).toBeNull();
    // A light test, for its part, does not wait for the browser test ahead of it.
    expect(
      estimate({ ...row, test_type: 'performance' }, snapshot, { tests: 5, browser: 0 }, { now: NOW }),
    ).toEqual({ queuePosition: 5, etaSeconds: Math.ceil((4 * 10 + 9) / 5 + 10), stalled: false });
  });
});

describe('capacityOf', () => {
  it("adds the live workers' slots per queue; a worker from before the browser queue has light slots", () => {
    expect(
      capacityOf([
        { slots: { tests: 5 } },
        { slots: { browser: 1 } },
        { slots: { tests: 5, browser: 1 } },
        {},
      ]),
    ).toEqual({ tests: 10, browser: 2 });
  });
});
