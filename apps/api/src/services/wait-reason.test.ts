import { describe, expect, it } from 'vitest';
import { whyQueued } from './wait-reason.js';

describe('whyQueued', () => {
  it('says why a queued test waits', () => {
    expect(whyQueued('queued', 1, 0, 0)).toBe('no worker is online');
    expect(whyQueued('queued', 4, 5, 5)).toBe('3 tests ahead of it');
    expect(whyQueued('queued', 2, 5, 5)).toBe('1 test ahead of it');
    expect(whyQueued('queued', 1, 5, 5)).toBe('every worker slot is busy (5 of 5)');
    expect(whyQueued('queued', 1, 5, 2)).toBe('next to start');
  });

  it('gives a running test none', () => {
    expect(whyQueued('running', null, 5, 5)).toBeNull();
  });
});
