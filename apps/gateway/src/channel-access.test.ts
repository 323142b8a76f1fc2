import { describe, expect, it } from 'vitest';
import { createChannelAccess } from './channel-access.js';
import type { Reader } from './channel-access.js';

const owner: Reader = { id: 'u-owner', role: 'user' };
const other: Reader = { id: 'u-other', role: 'user' };
const admin: Reader = { id: 'u-admin', role: 'admin' };

const authorize = createChannelAccess(
  { ownerOf: async (testId) => (testId === 't1' ? { userId: owner.id, workspaceId: null } : null) },
  { roleOf: async () => undefined },
);

/**
 * What a reader gets of a channel: `refused`, `all` of its messages, or — on channels that mix
 * users — only messages about themselves (`own`), plus aggregates without a user (`own+aggregate`).
 */
async function access(reader: Reader, channel: string): Promise<string> {
  const decision = await authorize(reader, channel);
  if (!decision.allowed) return 'refused';
  if (!decision.filter) return 'all';
  const gets = (userId: string | null) => decision.filter!(reader, { userId });
  const own = gets(reader.id);
  const foreign = gets(reader.id === owner.id ? other.id : owner.id);
  const aggregate = gets(null);
  if (own && !foreign && aggregate) return 'own+aggregate';
  if (own && !foreign && !aggregate) return 'own';
  return `unexpected filter (own ${own}, foreign ${foreign}, aggregate ${aggregate})`;
}

// [channel, owner, other user, admin]; anonymous sockets never open (401 before the upgrade).
const table: [string, string, string, string][] = [
  ['test-progress-t1', 'all', 'refused', 'all'],
  ['stress-test-t1', 'all', 'refused', 'all'],
  ['job-status-t1', 'all', 'refused', 'all'],
  ['test-progress-missing', 'refused', 'refused', 'all'],
  ['stress-test-missing', 'refused', 'refused', 'all'],
  ['job-status-missing', 'refused', 'refused', 'all'],
  ['user-notifications-u-owner', 'all', 'refused', 'all'],
  ['test-updates', 'own', 'own', 'all'],
  ['test-history-updates', 'own', 'own', 'all'],
  ['queue-updates', 'own+aggregate', 'own+aggregate', 'all'],
  ['user-activity', 'own', 'own', 'all'],
  ['system-alerts', 'refused', 'refused', 'all'],
  ['system-maintenance', 'all', 'all', 'all'],
  ['team-t1', 'refused', 'refused', 'all'],
  // Not a share id (nor a live share): refused to everyone, admins included.
  ['shared-tests-p1', 'refused', 'refused', 'refused'],
];

describe('channel access', () => {
  it.each(table)('%s: owner %s, other user %s, admin %s', async (channel, forOwner, forOther, forAdmin) => {
    expect(await access(owner, channel)).toBe(forOwner);
    expect(await access(other, channel)).toBe(forOther);
    expect(await access(admin, channel)).toBe(forAdmin);
  });

  it('refuses a foreign test and a missing test with the same answer', async () => {
    const refusal = { allowed: false, code: 'FORBIDDEN', detail: 'not allowed to read this channel' };
    expect(await authorize(other, 'test-progress-t1')).toEqual(refusal);
    expect(await authorize(other, 'test-progress-missing')).toEqual(refusal);
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
