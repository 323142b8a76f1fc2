import { beforeEach, describe, expect, it } from 'vitest';
import { Events, Priority, SHARE_REVOKED_TOPIC, createMessage } from '@crucible/contracts';
import { TestSharesRepository } from '@crucible/db';
import { generateShareId, hashShareId } from '@crucible/runtime';
import { connect, createTest, h, startGateway, track, useHarness } from './harness.js';
import type { GatewayHandle } from './harness.js';
import { TestClient } from './ws-client.js';

useHarness();

/** A live share of a new test of the owner's: its public id, and the test. */
async function shareOf(expiresAt: Date | null = null) {
  const testId = await createTest(h.owner);
  const { workspaceId } = (await h.tests.ownerOf(testId))!;
  const shareId = generateShareId();
  const row = await new TestSharesRepository(h.db.kysely).create({
    shareHash: hashShareId(shareId),
    testId,
    workspaceId: workspaceId!,
    createdBy: h.owner.id,
    expiresAt,
  });
  return { shareId, testId, id: row.id, channel: `shared-tests-${shareId}` };
}

/** What the worker publishes while a test runs: ids, a URL with a token, a stage, figures. */
function progress(testId: string, n: number) {
  return h.eventLog.publish(
    createMessage({
      event: Events.TEST_PROGRESS,
      channel: `test-progress-${testId}`,
      data: {
        testId,
        progress: n,
        stage: 'GET https://example.test/?token=tk',
        url: 'https://x.test/?k=1',
        rps: 7,
      },
      userId: h.owner.id,
      priority: Priority.NORMAL,
    }),
  );
}

async function anonymous(gateway: GatewayHandle, shareId: string): Promise<TestClient> {
  const client = track(await TestClient.connect(`${gateway.url}?share=${shareId}`));
  expect((await client.next()).event).toBe('connection:established');
  return client;
}

describe('share links on the gateway', () => {
  let gateway: GatewayHandle;
  beforeEach(async () => {
    gateway = await startGateway({ shares: new TestSharesRepository(h.db.kysely) });
  });

  it("admits the link's holder without sign-in, to that share's channel only, with redacted messages", async () => {
    const share = await shareOf();
    const other = await shareOf();
    const client = await anonymous(gateway, share.shareId);
    for (const channel of [
      `test-progress-${share.testId}`,
      other.channel,
      'queue-updates',
      'system-alerts',
    ]) {
      client.send({ type: 'subscribe', channel });
      expect(await client.next()).toMatchObject({ type: 'error', code: 'FORBIDDEN', channel });
    }
    client.send({ type: 'subscribe', channel: share.channel });
    expect(await client.next()).toMatchObject({ type: 'subscribed', channel: share.channel });
    await progress(share.testId, 40);
    const message = await client.next();
    expect(message).toMatchObject({
      event: 'test:progress',
      channel: share.channel,
      data: { progress: 40, rps: 7 },
      userId: null,
    });
    expect(Object.keys(message.data).sort()).toEqual(['progress', 'rps']);
    const raw = JSON.stringify(message);
    for (const hidden of [share.testId, h.owner.id, 'tk', 'x.test']) expect(raw).not.toContain(hidden);
  });

  it('refuses a bogus, unknown or expired share before the upgrade', async () => {
    const expired = await shareOf(new Date(Date.now() - 1000));
    for (const id of ['nope', 'A'.repeat(32), expired.shareId]) {
      expect((await TestClient.refusal(`${gateway.url}?share=${id}`)).status).toBe(401);
    }
  });

  it('revocation drops the channel at once: an anonymous socket closes, a signed-in one keeps the rest', async () => {
    const share = await shareOf();
    const stranger = await connect(gateway, h.stranger);
    stranger.send({ type: 'subscribe', channel: share.channel });
    expect(await stranger.next()).toMatchObject({ type: 'subscribed', channel: share.channel });
    stranger.send({ type: 'subscribe', channel: 'system-maintenance' });
    expect(await stranger.next()).toMatchObject({ type: 'subscribed', channel: 'system-maintenance' });
    const client = await anonymous(gateway, share.shareId);
    client.send({ type: 'subscribe', channel: share.channel });
    expect(await client.next()).toMatchObject({ type: 'subscribed' });

    // What the api does on DELETE: mark it revoked, then tell every gateway.
    await new TestSharesRepository(h.db.kysely).revoke(
      share.testId,
      (await h.tests.ownerOf(share.testId))!.workspaceId!,
      {
        id: share.id,
      },
    );
    await h.backplane.pubsub.publish(SHARE_REVOKED_TOPIC, hashShareId(share.shareId));
    expect(await stranger.next()).toEqual({
      type: 'error',
      code: 'FORBIDDEN',
      channel: share.channel,
      detail: 'this share link was revoked',
    });
    expect(await client.closed).toEqual({ code: 4001, reason: 'share revoked' });
    await progress(share.testId, 60);
    const late = (await stranger.drain()).filter((f) => f.channel === share.channel);
    expect(late).toEqual([]);
    // Subscribing again is refused, as for any share that is not live.
    stranger.send({ type: 'subscribe', channel: share.channel });
    expect(await stranger.next()).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
  });
});
