import { describe, expect, it } from 'vitest';
import { createChannelAccess } from './channel-access.js';
import type { Reader } from './channel-access.js';

const owner: Reader = { id: 'u-owner', role: 'user' };
const other: Reader = { id: 'u-other', role: 'user' };
const admin: Reader = { id: 'u-admin', role: 'admin' };

const authorize = createChannelAccess({
  ownerOf: async (testId) => (testId === 't1' ? { userId: owner.id } : null),
});

const allowed = { allowed: true };
const forbidden = { allowed: false, code: 'FORBIDDEN', detail: 'not allowed to read this channel' };

// [channel, owner, other user, admin]
const table: [string, object, object, object][] = [
  ['test-progress-t1', allowed, forbidden, allowed],
  ['stress-test-t1', allowed, forbidden, allowed],
  ['job-status-t1', allowed, forbidden, allowed],
  ['test-progress-missing', forbidden, forbidden, allowed],
  ['stress-test-missing', forbidden, forbidden, allowed],
  ['job-status-missing', forbidden, forbidden, allowed],
  ['user-notifications-u-owner', allowed, forbidden, allowed],
  ['queue-updates', allowed, allowed, allowed],
  ['system-alerts', allowed, allowed, allowed],
  ['system-maintenance', allowed, allowed, allowed],
  ['test-updates', forbidden, forbidden, allowed],
  ['test-history-updates', forbidden, forbidden, allowed],
  ['user-activity', forbidden, forbidden, allowed],
  ['team-t1', forbidden, forbidden, allowed],
  ['shared-tests-p1', forbidden, forbidden, allowed],
];

describe('channel access', () => {
  it.each(table)('%s: owner, other user, admin', async (channel, forOwner, forOther, forAdmin) => {
    expect(await authorize(owner, channel)).toEqual(forOwner);
    expect(await authorize(other, channel)).toEqual(forOther);
    expect(await authorize(admin, channel)).toEqual(forAdmin);
  });

  it('refuses a foreign test and a missing test with the same answer', async () => {
    expect(await authorize(other, 'test-progress-t1')).toEqual(
      await authorize(other, 'test-progress-missing'),
    );
  });

  it.each(['nope', 'test-progress-', 'test-progress-a/b', 'queue-updates-x', ''])(
    'answers BAD_REQUEST for the unknown channel "%s", even to an admin',
    async (channel) => {
      expect(await authorize(admin, channel)).toEqual({
        allowed: false,
        code: 'BAD_REQUEST',
        detail: 'unknown channel',
      });
    },
  );
});
