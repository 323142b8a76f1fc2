import { describe, expect, it } from 'vitest';
import { whyQueued } from './wait-reason.js';

/** The test's own queue: `capacity` slots, `running` of them busy, `others` of the tests ahead other workspaces'. */
const own = (capacity: number, running: number, queue: 'tests' | 'browser' = 'tests', others = 0) => ({
  queue,
  capacity,
  snapshot: {
    running: Array.from({ length: running }, () => ({ testType: 'api' as const, elapsedSec: 1 })),
    otherWorkspacesAhead: others,
  },
});

describe('whyQueued', () => {
  it('says why a queued test waits', () => {
    expect(whyQueued('queued', 1, own(0, 0))).toBe('no worker is online');
    expect(whyQueued('queued', 1, own(0, 0, 'browser'))).toBe('no browser worker is online');
    expect(whyQueued('queued', 4, own(5, 5))).toBe('3 tests ahead of it');
    expect(whyQueued('queued', 2, own(5, 5))).toBe('1 test ahead of it');
    expect(whyQueued('queued', 1, own(5, 5))).toBe('every worker slot is busy (5 of 5)');
    expect(whyQueued('queued', 1, own(5, 2))).toBe('next to start');
  });

  it('says when other workspaces take their turn first (fair share)', () => {
    expect(whyQueued('queued', 4, own(5, 5, 'tests', 1))).toBe(
      'fair share: other workspaces take their turn first — 3 tests ahead of it, 1 of them theirs',
    );
    expect(whyQueued('queued', 2, own(5, 5, 'tests', 1))).toBe(
      'fair share: other workspaces take their turn first — 1 test ahead of it, 1 of them theirs',
    );
    // No worker at all says more than whose turn it is.
    expect(whyQueued('queued', 4, own(0, 0, 'tests', 3))).toBe('no worker is online');
  });

  it('gives a running test none', () => {
    expect(whyQueued('running', null, own(5, 5))).toBeNull();
  });
});
