import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { connect, createTest, h, publish, startGateway, tokenOf, useHarness } from './harness.js';
import type { GatewayHandle } from './harness.js';
import { TestClient } from './ws-client.js';

useHarness();

/**
 * Every channel rule, over real sockets. Three messages are published on each channel: one about
 * the owner (n=1), one about the other user (n=2) and one about nobody (n=3, an aggregate). The
 * cells say which of them each reader receives, or that its subscribe is refused.
 */
type Cell = 'refused' | number[];
interface Row {
  name: string;
  channel: (ids: { testId: string; ownerId: string }) => string;
  owner: Cell;
  other: Cell;
  admin: Cell;
}

const all = [1, 2, 3];
const table: Row[] = [
  {
    name: "test-progress of the owner's test",
    channel: (i) => `test-progress-${i.testId}`,
    owner: all,
    other: 'refused',
    admin: all,
  },
  {
    name: "stress-test of the owner's test",
    channel: (i) => `stress-test-${i.testId}`,
    owner: all,
    other: 'refused',
    admin: all,
  },
  {
    name: "job-status of the owner's test",
    channel: (i) => `job-status-${i.testId}`,
    owner: all,
    other: 'refused',
    admin: all,
  },
  {
    name: 'test-progress of a missing test',
    channel: () => `test-progress-${randomUUID()}`,
    owner: 'refused',
    other: 'refused',
    admin: all,
  },
  {
    name: "the owner's user-notifications",
    channel: (i) => `user-notifications-${i.ownerId}`,
    owner: all,
    other: 'refused',
    admin: all,
  },
  { name: 'test-updates', channel: () => 'test-updates', owner: [1], other: [2], admin: all },
  { name: 'test-history-updates', channel: () => 'test-history-updates', owner: [1], other: [2], admin: all },
  { name: 'queue-updates', channel: () => 'queue-updates', owner: [1, 3], other: [2, 3], admin: all },
  { name: 'user-activity', channel: () => 'user-activity', owner: [1], other: [2], admin: all },
  { name: 'system-alerts', channel: () => 'system-alerts', owner: 'refused', other: 'refused', admin: all },
  { name: 'system-maintenance', channel: () => 'system-maintenance', owner: all, other: all, admin: all },
  { name: 'team-…', channel: () => 'team-core', owner: 'refused', other: 'refused', admin: all },
  {
    name: 'shared-tests-…',
    channel: () => 'shared-tests-p1',
    // Not a live share: refused to everyone (share-links.test.ts has live ones).
    owner: 'refused',
    other: 'refused',
    admin: 'refused',
  },
];

describe('channel rules (owner, other user, admin, anonymous)', () => {
  let gateway: GatewayHandle;
  beforeEach(async () => {
    gateway = await startGateway();
  });

  it.each(table)('$name: owner $owner, other $other, admin $admin', async (row) => {
    const testId = await createTest(h.owner);
    const channel = row.channel({ testId, ownerId: h.owner.id });
    const readers = [
      { cell: row.owner, client: await connect(gateway, h.owner) },
      { cell: row.other, client: await connect(gateway, h.stranger) },
      { cell: row.admin, client: await connect(gateway, h.admin) },
    ];
    for (const { cell, client } of readers) {
      client.send({ type: 'subscribe', channel });
      const reply = await client.next();
      if (cell === 'refused') {
        // The same frame for a foreign test and a missing one: nothing to learn from it.
        expect(reply).toEqual({
          type: 'error',
          code: 'FORBIDDEN',
          channel,
          detail: 'not allowed to read this channel',
        });
      } else {
        expect(reply).toMatchObject({ type: 'subscribed', channel, recovered: true });
      }
    }
    await publish(channel, 1, { userId: h.owner.id });
    await publish(channel, 2, { userId: h.stranger.id });
    await publish(channel, 3, { userId: null });
    // Sentinels that pass every filter of their reader: once a reader has its own, everything
    // published before it on the channel has been delivered or filtered out (offsets keep order).
    await publish(channel, 5, { userId: h.owner.id });
    await publish(channel, 6, { userId: h.stranger.id });
    const sentinels = [5, 6, 6];
    for (const [index, { cell, client }] of readers.entries()) {
      const received: number[] = [];
      if (cell !== 'refused') {
        for (;;) {
          const frame = await client.next();
          if (frame.channel !== channel) continue;
          if (frame.data.n === sentinels[index]) break;
          if (frame.data.n < 5) received.push(frame.data.n as number);
        }
      }
      const late = (await client.drain()).filter((f) => f.channel === channel && f.data.n < 5);
      expect({ received, late }).toEqual({ received: cell === 'refused' ? [] : cell, late: [] });
    }
  });

  it('refuses an anonymous socket before the upgrade, with or without a bogus token or ticket', async () => {
    for (const query of [
      '',
      '?token=',
      '?token=nonsense',
      '?ticket=wst_nonsense',
      `?ticket=${tokenOf(h.owner)}`,
    ]) {
      const refusal = await TestClient.refusal(`${gateway.url}${query}`);
      expect(refusal.status).toBe(401);
      expect(refusal.body.code).toBe('UNAUTHORIZED');
    }
  });
});
