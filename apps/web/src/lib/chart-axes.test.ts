import { describe, expect, it } from 'vitest';
import { secondRange, secondTicks, tickLabel, valueScale, yAxisSize } from './chart-axes';

describe('secondTicks', () => {
  it('gives a short run whole seconds only', () => {
    expect(secondTicks(1, 2, 8)).toEqual([1, 2]);
    expect(secondTicks(0, 3, 8)).toEqual([0, 1, 2, 3]);
    expect(secondTicks(1, 1.4, 8)).toEqual([1, 2]);
  });

  it('steps a longer run by round numbers, never more ticks than fit', () => {
    expect(secondTicks(1, 30, 8)).toEqual([5, 10, 15, 20, 25, 30]);
    expect(secondTicks(1, 30, 4)).toEqual([10, 20, 30]);
    expect(secondTicks(0, 600, 6)).toEqual([0, 120, 240, 360, 480, 600]);
  });
});

describe('secondRange', () => {
  it('spans whole seconds and at least one', () => {
    expect(secondRange(1, 1)).toEqual([1, 2]);
    expect(secondRange(0.5, 29.2)).toEqual([0, 30]);
    expect(secondRange(null, null)).toEqual([0, 1]);
  });
});

describe('valueScale', () => {
  it('always has five labels from 0 to a round maximum', () => {
    expect(valueScale(1234)).toEqual({ max: 2000, ticks: [0, 500, 1000, 1500, 2000] });
    expect(valueScale(3.2)).toEqual({ max: 4, ticks: [0, 1, 2, 3, 4] });
    expect(valueScale(0.42)).toEqual({ max: 0.8, ticks: [0, 0.2, 0.4, 0.6, 0.8] });
  });

  it('gives a flat zero series a scale too: 0–1, or 0–4 for counts', () => {
    expect(valueScale(0)).toEqual({ max: 1, ticks: [0, 0.25, 0.5, 0.75, 1] });
    expect(valueScale(0, 4, true)).toEqual({ max: 4, ticks: [0, 1, 2, 3, 4] });
  });

  it('steps counts by whole numbers', () => {
    expect(valueScale(2, 4, true)).toEqual({ max: 4, ticks: [0, 1, 2, 3, 4] });
    expect(valueScale(9, 4, true)).toEqual({ max: 12, ticks: [0, 3, 6, 9, 12] });
  });
});

describe('tickLabel', () => {
  it('shows as many decimals as the step needs', () => {
    expect(tickLabel(1500, 500)).toBe('1500');
    expect(tickLabel(0.25, 0.25)).toBe('0.25');
    expect(tickLabel(0.375, 0.125)).toBe('0.375');
    expect(tickLabel(1.5, 0.5)).toBe('1.5');
  });
});

describe('yAxisSize', () => {
  it('grows with the longest label, so values never reach the title', () => {
    expect(yAxisSize(['0', '5'])).toBe(27);
    expect(yAxisSize(['0', '1000', '20000'])).toBe(57);
    expect(yAxisSize(null)).toBe(27);
  });
});
