import { Events, Priority, createMessage } from '@crucible/contracts';
import { Registry } from 'prom-client';
import { describe, expect, it, onTestFinished } from 'vitest';
import { connect, createTest, h, metricValue, publish, startGateway, useHarness } from './harness.js';
import type { TestClient } from './ws-client.js';

/** The events of one test, as its owner would read them. */
useHarness();

async function ownTestChannel(): Promise<string> {
  return `test-progress-${await createTest(h.owner)}`;
}

async function subscribe(client: TestClient, channel: string, since?: { epoch?: string; offset: number }) {
  client.send(since ? { type: 'subscribe', channel, since } : { type: 'subscribe', channel });
  const reply = await client.next();
  expect(reply).toMatchObject({ type: 'subscribed', channel });
  return reply;
}

describe('batching', () => {
  it('sends at most batchMaxMessages per frame, and a HIGH message at once with what waited before it', async () => {
    // A batch window far longer than the test: only the size bound and urgency can flush.
    const gateway = await startGateway({ limits: { batchDelayMs: 60_000 } });
    const channel = await ownTestChannel();
    const client = await connect(gateway, h.owner);
    await subscribe(client, channel);

    for (let n = 1; n <= 25; n++) await publish(channel, n);
    await publish(channel, 26, { priority: Priority.HIGH });
    const messages = await client.nextN(26);
    expect(messages.map((m) => m.data.n)).toEqual(Array.from({ length: 26 }, (_, i) => i + 1));
    expect(messages.map((m) => m.offset)).toEqual(Array.from({ length: 26 }, (_, i) => i + 1));
    expect(client.batchSizes).toEqual([10, 10, 6]);
    expect(messages.filter((m) => m.ackRequired).map((m) => m.data.n)).toEqual([26]);
  });

  it('flushes what waits before any control frame, so replies keep their place', async () => {
    const metrics = new Registry();
    const gateway = await startGateway({ metrics, limits: { batchDelayMs: 60_000 } });
    const channel = await ownTestChannel();
    const client = await connect(gateway, h.owner);
    await subscribe(client, channel);
    for (let n = 1; n <= 3; n++) await publish(channel, n);
    await expect
      .poll(async () => metricValue(await metrics.metrics(), 'crucible_gateway_messages_in_total'))
      .toBe(3);
    expect(client.frames.filter((f) => f.channel === channel && f.event)).toEqual([]);

    client.send({ type: 'unsubscribe', channel });
    const frames = await client.nextN(4);
    expect(frames.map((f) => f.data?.n ?? f.type)).toEqual([1, 2, 3, 'unsubscribed']);
    expect(client.batchSizes).toEqual([3]);
  });
});

describe('acknowledgement', () => {
  it('marks CRITICAL and HIGH messages ackRequired, and redelivers the unacknowledged ones on resume', async () => {
    const gateway = await startGateway();
    const channel = await ownTestChannel();
    const first = await connect(gateway, h.owner);
    await subscribe(first, channel, { offset: 0 });
    await publish(channel, 1, { priority: Priority.HIGH });
    await publish(channel, 2, { priority: Priority.CRITICAL });
    await publish(channel, 3, { priority: Priority.NORMAL });
    const received = await first.nextN(3);
    expect(received.map((m) => [m.data.n, m.ackRequired ?? false])).toEqual([
      [1, true],
      [2, true],
      [3, false],
    ]);
    first.send({ type: 'ack', id: received[0]!.id });
    // The ack is recorded once the server has read it; a ping after it is answered after it.
    await first.drain();
    await first.close();

    await publish(channel, 4);
    const second = await connect(gateway, h.owner);
    const since = { epoch: received[2]!.epoch as string, offset: 3 };
    await subscribe(second, channel, since);
    const resumed = await second.nextN(2);
    expect(resumed.map((m) => ({ n: m.data.n, redelivered: m.redelivered ?? false }))).toEqual([
      { n: 2, redelivered: true },
      { n: 4, redelivered: false },
    ]);
    expect(resumed[0]).toMatchObject({ id: received[1]!.id, offset: 2, ackRequired: true });
    expect(await second.drain()).toEqual([]);

    // Acknowledged now: a further resume has nothing to redeliver.
    second.send({ type: 'ack', id: resumed[0]!.id });
    await second.drain();
    await second.close();
    const third = await connect(gateway, h.owner);
    await subscribe(third, channel, { epoch: since.epoch, offset: 4 });
    expect(await third.drain()).toEqual([]);
  });
});

describe('acknowledgement of several messages in one frame', () => {
  it('clears every message an {"type":"ack","ids":[…]} frame names, and only those', async () => {
    const metrics = new Registry();
    const gateway = await startGateway({ metrics });
    const channel = await ownTestChannel();
    const first = await connect(gateway, h.owner);
    await subscribe(first, channel, { offset: 0 });
    for (const n of [1, 2, 3]) await publish(channel, n, { priority: Priority.HIGH });
    const received = await first.nextN(3);
    first.send({ type: 'ack', ids: [received[0]!.id, received[2]!.id] });
    await first.drain();
    await first.close();

    const second = await connect(gateway, h.owner);
    await subscribe(second, channel, { epoch: received[2]!.epoch as string, offset: 3 });
    const resumed = await second.nextN(1);
    expect(resumed.map((m) => [m.data.n, m.redelivered])).toEqual([[2, true]]);
    expect(await second.drain()).toEqual([]);
    expect(metricValue(await metrics.metrics(), 'crucible_gateway_acks_total')).toBe(2);
  });

  it('refuses an ack frame whose ids are missing, empty, not strings or more than 1,000, and stays open', async () => {
    const gateway = await startGateway();
    const client = await connect(gateway, h.owner);
    const refusals: [object, string][] = [
      [{ type: 'ack' }, 'ack needs an id or ids'],
      [{ type: 'ack', ids: 'm1' }, 'ack needs an id or ids'],
      [{ type: 'ack', ids: [] }, 'ack ids must hold 1 to 1000 ids'],
      [
        { type: 'ack', ids: Array.from({ length: 1_001 }, (_, i) => `m${i}`) },
        'ack ids must hold 1 to 1000 ids',
      ],
      [{ type: 'ack', ids: ['m1', 2] }, 'ack ids must be strings'],
    ];
    for (const [frame, detail] of refusals) {
      client.send(frame);
      expect(await client.next()).toEqual({ type: 'error', code: 'BAD_REQUEST', detail });
    }
    client.send({ type: 'ack', ids: Array.from({ length: 1_000 }, (_, i) => `m${i}`) });
    expect(await client.drain()).toEqual([]);
  });
});

describe('acknowledgement is per user (DESIGN.md), across sockets and gateways', () => {
  it("counts one socket's ack for the user's other sockets; an unacknowledged message comes back to any of them", async () => {
    const [a, b] = [await startGateway(), await startGateway()];
    const channel = await ownTestChannel();
    const tabs = [await connect(a, h.owner), await connect(b, h.owner)];
    for (const tab of tabs) await subscribe(tab, channel, { offset: 0 });
    await publish(channel, 1, { priority: Priority.HIGH });
    await publish(channel, 2, { priority: Priority.HIGH });
    const [onA, onB] = [await tabs[0]!.nextN(2), await tabs[1]!.nextN(2)];
    expect(onB.map((m) => m.id)).toEqual(onA.map((m) => m.id));
    // Only the first tab acknowledges, and only the first message.
    tabs[0]!.send({ type: 'ack', id: onA[0]!.id });
    await tabs[0]!.drain();
    await Promise.all(tabs.map((tab) => tab.close()));

    // The second tab had handled both: it resumes after them, on the other gateway.
    const resumed = await connect(a, h.owner);
    await subscribe(resumed, channel, { epoch: onB[1]!.epoch as string, offset: 2 });
    const again = await resumed.drain();
    expect(again.map((m) => ({ id: m.id, redelivered: m.redelivered }))).toEqual([
      { id: onA[1]!.id, redelivered: true },
    ]);
  });
});

describe('recovery', () => {
  it('a client that disconnects and misses 50 messages resumes with all of them, once each, in order', async () => {
    const gateway = await startGateway();
    const channel = await ownTestChannel();
    const client = await connect(gateway, h.owner);
    await subscribe(client, channel, { offset: 0 });
    for (let n = 1; n <= 5; n++) await publish(channel, n);
    const seen = await client.nextN(5);
    const last = seen.at(-1)!;
    await client.close();

    for (let n = 6; n <= 55; n++) await publish(channel, n);
    const back = await connect(gateway, h.owner);
    const reply = await subscribe(back, channel, { epoch: last.epoch, offset: last.offset });
    expect(reply).toEqual({ type: 'subscribed', channel, epoch: last.epoch, offset: 55, recovered: true });
    // Published while the replay is under way: must follow it without a gap or a repeat.
    const live = Promise.all([56, 57].map((n) => publish(channel, n)));
    const missed = await back.nextN(52);
    await live;
    expect(missed.map((m) => m.offset)).toEqual(Array.from({ length: 52 }, (_, i) => i + 6));
    expect(missed.map((m) => m.data.n)).toEqual(Array.from({ length: 52 }, (_, i) => i + 6));
    expect(await back.drain()).toEqual([]);
  });

  it('answers recovered:false when the history after the asked offset was trimmed', async () => {
    // Redis trims streams by whole nodes (MAXLEN ~), memory exactly: 300 messages into a 10-long history lose the early ones.
    const shortLog = h.eventLogWith({ maxLen: 10 });
    const gateway = await startGateway({ eventLog: shortLog });
    const channel = await ownTestChannel();
    let epoch = '';
    for (let n = 1; n <= 300; n++) epoch = (await publish(channel, n, { log: shortLog })).epoch;
    const client = await connect(gateway, h.owner);
    const reply = await subscribe(client, channel, { epoch, offset: 1 });
    expect(reply).toEqual({ type: 'subscribed', channel, epoch, offset: 300, recovered: false });
    // Nothing of the partial history is replayed; live messages follow.
    await publish(channel, 301, { log: shortLog });
    expect(await client.next()).toMatchObject({ offset: 301, data: { n: 301 } });
  });
});

describe('slow consumers', () => {
  it('closes a client that stops reading (4008) while another on the same channel receives everything', async () => {
    const metrics = new Registry();
    // Messages of 32 KiB: a full batch (10) stays well under the 1 MiB bound, a stalled socket does not.
    const log = h.eventLogWith({ maxLen: 100 });
    const gateway = await startGateway({ metrics, eventLog: log, limits: { maxBufferedBytes: 1024 * 1024 } });
    const channel = await ownTestChannel();
    const slow = await connect(gateway, h.owner);
    const fast = await connect(gateway, h.admin);
    await subscribe(slow, channel);
    await subscribe(fast, channel);
    // Stop reading: the kernel buffers fill, then the gateway's queue for this socket grows.
    (slow.socket as unknown as { _socket: { pause(): void } })._socket.pause();

    const payload = 'x'.repeat(32 * 1024);
    let published = 0;
    const received: number[] = [];
    const slowDisconnects = async () =>
      metricValue(await metrics.metrics(), 'crucible_gateway_slow_disconnects_total');
    while ((await slowDisconnects()) === 0) {
      if (published >= 3000) throw new Error('the slow client was never closed');
      // Issued together: offsets follow the calls (Redis runs one connection's commands in order).
      const round = Array.from({ length: 20 }, () => ++published);
      await Promise.all(
        round.map((n) =>
          log.publish({
            id: `m-${n}`,
            event: 'test:progress',
            channel,
            data: { n, payload },
            priority: Priority.NORMAL,
            timestamp: Date.now(),
            userId: h.owner.id,
          }),
        ),
      );
      // The reader that keeps up reads each round before the next: an in-process publisher would
      // otherwise outrun every socket, not only the stalled one. Its answer to a ping also waits
      // for the gateway to hear its pongs, which confirm what it read: the bound counts bytes sent
      // and not yet confirmed.
      received.push(...(await fast.nextN(round.length)).map((m) => m.data.n as number));
      fast.send({ type: 'ping' });
      expect(await fast.next()).toEqual({ type: 'pong' });
    }
    expect(received).toEqual(Array.from({ length: published }, (_, i) => i + 1));

    (slow.socket as unknown as { _socket: { resume(): void } })._socket.resume();
    // The close frame queues behind the unread data; the gateway drops the connection if the peer is too late.
    expect([4008, 1006]).toContain((await slow.closed).code);
    expect(await slowDisconnects()).toBe(1);
    await expect
      .poll(async () => metricValue(await metrics.metrics(), 'crucible_gateway_connections'))
      .toBe(1);
  });
  it('closes a stalled client with 4008 once it leaves the bound unread, though the kernel still takes the bytes', async () => {
    const metrics = new Registry();
    const bound = 256 * 1024;
    // A heartbeat far longer than the test: only the slow-consumer rule can close the stalled client.
    const gateway = await startGateway({
      metrics,
      limits: { maxBufferedBytes: bound, heartbeatMs: 600_000, heartbeatTimeoutMs: 600_000 },
    });
    const channel = await ownTestChannel();
    const slow = await connect(gateway, h.owner);
    const fast = await connect(gateway, h.admin);
    await subscribe(slow, channel);
    await subscribe(fast, channel);
    const stalled = (slow.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    stalled.pause();
    // Even when the test fails: a socket left unread would hold up the gateway's close.
    onTestFinished(() => stalled.resume());

    // Progress events of a realistic size. Loopback's socket buffers alone take megabytes from a
    // client that reads nothing, so counting only what the process still holds lets such a client
    // take many times the bound before the rule sees any of it.
    const payload = 'x'.repeat(400);
    const slowDisconnects = async () =>
      metricValue(await metrics.metrics(), 'crucible_gateway_slow_disconnects_total');
    let published = 0;
    // What the reader that keeps up was sent: the stalled one was sent the same.
    let sentBytes = 0;
    while ((await slowDisconnects()) === 0) {
      expect(sentBytes, 'bytes sent to the stalled client, which is still open').toBeLessThan(2 * bound);
      const round = Array.from({ length: 20 }, () => ++published);
      await Promise.all(
        round.map((n) =>
          h.eventLog.publish(
            createMessage({
              event: Events.TEST_PROGRESS,
              channel,
              data: { testId: channel.slice('test-progress-'.length), n, payload },
              userId: h.owner.id,
              priority: Priority.NORMAL,
            }),
          ),
        ),
      );
      const messages = await fast.nextN(round.length);
      expect(messages.map((m) => m.data.n)).toEqual(round);
      sentBytes += messages.reduce((sum, m) => sum + JSON.stringify(m).length, 0);
      // As in the test above: the gateway has heard the reader's pongs before the next round.
      fast.send({ type: 'ping' });
      expect(await fast.next()).toEqual({ type: 'pong' });
    }
    // Closed only once the bound was passed, not before.
    expect(sentBytes).toBeGreaterThan(bound);

    stalled.resume();
    // The close frame queues behind the unread data; the gateway drops the connection if the peer is too late.
    expect([4008, 1006]).toContain((await slow.closed).code);
    expect(await slowDisconnects()).toBe(1);
    await expect
      .poll(async () => metricValue(await metrics.metrics(), 'crucible_gateway_connections'))
      .toBe(1);
  });
});

describe('frame limits', () => {
  it('closes the socket with 1009 for a frame over the limit', async () => {
    const gateway = await startGateway();
    const client = await connect(gateway, h.owner);
    client.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(64 * 1024) }));
    expect((await client.closed).code).toBe(1009);
  });

  it('answers each malformed frame with an error, and closes with 1008 past the tolerated number', async () => {
    const gateway = await startGateway({ limits: { maxInvalidFrames: 3 } });
    const client = await connect(gateway, h.owner);
    const bad = ['{oops', '[]', JSON.stringify({ type: 'subscribe' }), Buffer.from('binary')];
    for (const frame of bad.slice(0, 3)) client.send(frame);
    expect((await client.nextN(3)).map((f) => f.detail)).toEqual([
      'frame is not valid JSON',
      'frame must be a JSON object',
      'subscribe needs a channel',
    ]);
    client.socket.send(bad[3]!);
    const closed = await client.closed;
    expect(closed).toEqual({ code: 1008, reason: 'too many invalid frames' });
  });
});
