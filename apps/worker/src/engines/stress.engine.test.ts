import { describe, expect, it } from 'vitest';
import { activeUsers } from './stress.engine.js';

describe('activeUsers', () => {
  it('ramps a load test up to its connections, then holds', () => {
    expect([0, 2.5, 5, 9.9, 10, 30].map((t) => activeUsers('load', 20, t, 40, 10))).toEqual([
      1, 5, 10, 20, 20, 20,
    ]);
    expect(activeUsers('load', 20, 0, 40, 0)).toBe(20);
  });

  it('climbs a stress test in five equal steps', () => {
    expect([0, 7.9, 8, 16, 24, 32, 39.9].map((t) => activeUsers('stress', 50, t, 40, 0))).toEqual([
      10, 10, 20, 30, 40, 50, 50,
    ]);
  });

  it('spikes to full load for the middle fifth only', () => {
    expect([0, 3.9, 4, 5.9, 6, 9.9].map((t) => activeUsers('spike', 100, t, 10, 0))).toEqual([
      10, 10, 100, 100, 10, 10,
    ]);
  });
});
