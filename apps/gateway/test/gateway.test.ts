import { randomUUID } from 'node:crypto';
import { Channels, channelName } from '@crucible/contracts';
import type { EventLog } from '@crucible/contracts';
import { createTokenService } from '@crucible/runtime';
import type { User } from '@crucible/db';
import type { FastifyInstance } from 'fastify';
import { beforeEach, describe, expect, it } from 'vitest';
import type { GatewayLimits } from '../src/index.js';
import {
  h,
  connect as connectTo,
  createTest,
  publish as publishTo,
  startGateway,
  tokenOf,
  track,
  useHarness,
} from './harness.js';
import type { GatewayHandle } from './harness.js';
import { TestClient } from './ws-client.js';

useHarness();

let gateway: GatewayHandle;
let app: FastifyInstance | undefined;
let baseUrl: string;

async function start(
  limits: Partial<GatewayLimits> = {},
  log: Pick<EventLog, 'recover' | 'publish'> = h.eventLog,
) {
  gateway = await startGateway({ limits, eventLog: log });
  app = gateway.app;
  baseUrl = gateway.url;
}

const connect = (user: User, options: { autoPong?: boolean } = {}) => connectTo(gateway, user, options);
const publish = (channel: string, n: number) => publishTo(channel, n);

describe('upgrade authentication', () => {
  beforeEach(() => start());

  it('answers 401 problem+json without a token, and never upgrades', async () => {
    const refusal = await TestClient.refusal(baseUrl);
    expect(refusal.status).toBe(401);
    expect(refusal.contentType).toMatch(/^application\/problem\+json/);
    expect(refusal.body).toEqual({
      type: 'about:blank',
      title: 'Unauthorized',
      status: 401,
      detail: 'missing or invalid token',
      code: 'UNAUTHORIZED',
    });
  });

  it('answers 401 to a bad token in the query or the Authorization header', async () => {
    const forged = createTokenService('another-secret-that-is-also-long-enough-987654').sign({
      sub: h.owner.id,
      role: 'admin',
      sid: '4f9d6c1e-8a2b-4c3d-9e5f-0a1b2c3d4e5f',
    });
    expect((await TestClient.refusal(`${baseUrl}?token=${forged}`)).status).toBe(401);
    expect(
      (await TestClient.refusal(baseUrl, { headers: { authorization: `Bearer ${forged}` } })).status,
    ).toBe(401);
    expect((await TestClient.refusal(`${baseUrl}?token=crk_not-a-key`)).status).toBe(401);
  });

  it('sends connection:established to a token from the query or the Authorization header', async () => {
    const both = [
      track(await TestClient.connect(`${baseUrl}?token=${tokenOf(h.owner)}`)),
      track(await TestClient.connect(baseUrl, { headers: { authorization: `Bearer ${tokenOf(h.owner)}` } })),
    ];
    for (const client of both) {
      const hello = await client.next();
      expect(hello).toMatchObject({
        event: 'connection:established',
        channel: '',
        data: { userId: h.owner.id, heartbeatMs: 30_000 },
        userId: h.owner.id,
        priority: 3,
        offset: 0,
        epoch: '',
      });
      expect(hello.data.connectionId).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(both[0]!.frames[0]!.data.connectionId).not.toBe(both[1]!.frames[0]!.data.connectionId);
  });

  it('never writes the token to the log', async () => {
    const token = tokenOf(h.owner);
    await connect(h.owner);
    await TestClient.refusal(`${baseUrl}?token=bad-${token}`);
    const log = gateway.logLines.join('');
    expect(log).toContain('token=[REDACTED]');
    expect(log).not.toContain(token);
  });
});

describe('subscriptions', () => {
  beforeEach(() => start());

  it('replays retained history from offset 0, then continues live: every offset exactly once, in order', async () => {
    const testId = await createTest(h.owner);
    const channel = channelName(Channels.TEST_PROGRESS, { testId });
    for (const n of [1, 2, 3]) await publish(channel, n);
    const client = await connect(h.owner);

    client.send({ type: 'subscribe', channel, since: { offset: 0 } });
    // Published while the subscribe is being served: each lands in the replay or arrives live.
    const live = Promise.all([4, 5].map((n) => publish(channel, n)));
    const subscribed = await client.next();
    const epoch = (await live)[0]!.epoch;
    expect(subscribed).toMatchObject({ type: 'subscribed', channel, epoch, recovered: true });

    const messages = await client.nextN(5);
    expect(messages.map((m) => m.offset)).toEqual([1, 2, 3, 4, 5]);
    expect(messages.map((m) => m.epoch)).toEqual([epoch, epoch, epoch, epoch, epoch]);
    expect(messages.map((m) => m.data.n).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(messages.every((m) => m.channel === channel && m.event === 'test:progress')).toBe(true);
    expect(await client.drain()).toEqual([]);

    await publish(channel, 6);
    expect((await client.next()).offset).toBe(6);
  });

  it('delivers messages that arrive live while history is read, and are in that history, exactly once', async () => {
    await app!.close();
    const testId = await createTest(h.owner);
    const channel = channelName(Channels.TEST_PROGRESS, { testId });
    await start(
      {},
      {
        publish: (draft) => h.eventLog.publish(draft),
        recover: async (ch, since) => {
          for (const n of [3, 4]) await publish(channel, n);
          // Once the bus has handed over what was published before, 3 and 4 were dispatched live.
          await gateway.busDrained();
          return h.eventLog.recover(ch, since);
        },
      },
    );
    for (const n of [1, 2]) await publish(channel, n);
    const client = await connect(h.owner);

    client.send({ type: 'subscribe', channel, since: { offset: 0 } });
    expect(await client.next()).toMatchObject({ type: 'subscribed', channel, offset: 4, recovered: true });
    expect((await client.nextN(4)).map((m) => m.offset)).toEqual([1, 2, 3, 4]);
    await publish(channel, 5);
    expect((await client.next()).offset).toBe(5);
    expect(await client.drain()).toEqual([]);
  });

  it('resumes from {epoch, offset: 2} with exactly the messages after it', async () => {
    const testId = await createTest(h.owner);
    const channel = channelName(Channels.TEST_PROGRESS, { testId });
    let epoch = '';
    for (const n of [1, 2, 3, 4, 5]) epoch = (await publish(channel, n)).epoch;
    const client = await connect(h.owner);

    client.send({ type: 'subscribe', channel, since: { epoch, offset: 2 } });
    expect(await client.next()).toEqual({ type: 'subscribed', channel, epoch, offset: 5, recovered: true });
    expect((await client.nextN(3)).map((m) => m.offset)).toEqual([3, 4, 5]);
    expect(await client.drain()).toEqual([]);
  });

  it('answers recovered:false without a replay for another epoch, then delivers live messages', async () => {
    const testId = await createTest(h.owner);
    const channel = channelName(Channels.TEST_PROGRESS, { testId });
    let epoch = '';
    for (const n of [1, 2, 3]) epoch = (await publish(channel, n)).epoch;
    const client = await connect(h.owner);

    client.send({ type: 'subscribe', channel, since: { epoch: 'lost-epoch', offset: 1 } });
    expect(await client.next()).toEqual({ type: 'subscribed', channel, epoch, offset: 3, recovered: false });
    await publish(channel, 4);
    expect(await client.next()).toMatchObject({ channel, offset: 4, epoch, data: { n: 4 } });
  });

  it('answers recovered:false when the asked offset is beyond the channel history', async () => {
    const testId = await createTest(h.owner);
    const channel = channelName(Channels.TEST_PROGRESS, { testId });
    const { epoch } = await publish(channel, 1);
    const client = await connect(h.owner);

    client.send({ type: 'subscribe', channel, since: { epoch, offset: 7 } });
    expect(await client.next()).toEqual({ type: 'subscribed', channel, epoch, offset: 1, recovered: false });
  });

  it('without since: subscribed (recovered:true, current position), then only new messages', async () => {
    const testId = await createTest(h.owner);
    const channel = channelName(Channels.STRESS_TEST, { testId });
    const { epoch } = await publish(channel, 1);
    const client = await connect(h.owner);

    client.send({ type: 'subscribe', channel });
    expect(await client.next()).toEqual({ type: 'subscribed', channel, epoch, offset: 1, recovered: true });
    await publish(channel, 2);
    expect(await client.next()).toMatchObject({ offset: 2, data: { n: 2 } });
  });

  it("refuses another user's test and a missing test with the same frame, and never leaks a message", async () => {
    const testId = await createTest(h.owner);
    const channel = channelName(Channels.TEST_PROGRESS, { testId });
    const missing = channelName(Channels.TEST_PROGRESS, { testId: randomUUID() });
    const ownerClient = await connect(h.owner);
    const intruder = await connect(h.stranger);

    ownerClient.send({ type: 'subscribe', channel });
    expect(await ownerClient.next()).toMatchObject({ type: 'subscribed', channel });
    intruder.send({ type: 'subscribe', channel });
    const refused = await intruder.next();
    intruder.send({ type: 'subscribe', channel: missing });
    const refusedMissing = await intruder.next();
    const detail = 'not allowed to read this channel';
    expect(refused).toEqual({ type: 'error', code: 'FORBIDDEN', channel, detail });
    expect(refusedMissing).toEqual({ type: 'error', code: 'FORBIDDEN', channel: missing, detail });

    await publish(channel, 1);
    expect((await ownerClient.next()).offset).toBe(1);
    expect(await intruder.drain()).toEqual([]);
  });

  it('lets an admin read any test channel', async () => {
    const testId = await createTest(h.owner);
    const channel = channelName(Channels.JOB_STATUS, { jobId: testId });
    const client = await connect(h.admin);

    client.send({ type: 'subscribe', channel, since: { offset: 0 } });
    expect(await client.next()).toEqual({
      type: 'subscribed',
      channel,
      epoch: '',
      offset: 0,
      recovered: true,
    });
    const published = await publish(channel, 1);
    expect(await client.next()).toEqual(published);
  });

  it('stops delivery after unsubscribe, and holds one bus subscription per channel while anyone reads it', async () => {
    const testId = await createTest(h.owner);
    const channel = channelName(Channels.TEST_PROGRESS, { testId });
    const numsub = () => h.busSubscribers(channel);
    const leaving = await connect(h.owner);
    const staying = await connect(h.admin);

    leaving.send({ type: 'subscribe', channel });
    staying.send({ type: 'subscribe', channel });
    expect(await leaving.next()).toMatchObject({ type: 'subscribed', channel });
    expect(await staying.next()).toMatchObject({ type: 'subscribed', channel });
    expect(await numsub()).toBe(1);

    leaving.send({ type: 'unsubscribe', channel });
    expect(await leaving.next()).toEqual({ type: 'unsubscribed', channel });
    await publish(channel, 1);
    expect((await staying.next()).offset).toBe(1);
    expect(await leaving.drain()).toEqual([]);

    staying.send({ type: 'unsubscribe', channel });
    expect(await staying.next()).toEqual({ type: 'unsubscribed', channel });
    expect(await staying.drain()).toEqual([]);
    expect(await numsub()).toBe(0);

    leaving.send({ type: 'unsubscribe', channel });
    expect(await leaving.next()).toEqual({
      type: 'error',
      code: 'NOT_FOUND',
      channel,
      detail: 'not subscribed',
    });
  });
});

describe('frames', () => {
  beforeEach(() => start({ maxChannelsPerConnection: 2 }));

  it('answers ping with pong', async () => {
    const client = await connect(h.owner);
    client.send({ type: 'ping' });
    expect(await client.next()).toEqual({ type: 'pong' });
  });

  it('answers malformed, unknown and invalid frames with BAD_REQUEST and stays open', async () => {
    const client = await connect(h.owner);
    client.send('{not json');
    expect(await client.next()).toEqual({
      type: 'error',
      code: 'BAD_REQUEST',
      detail: 'frame is not valid JSON',
    });
    client.send({ type: 'shout' });
    expect(await client.next()).toEqual({ type: 'error', code: 'BAD_REQUEST', detail: 'unknown frame type' });
    client.send({ type: 'subscribe', channel: 'queue-updates', since: { offset: -1 } });
    expect(await client.next()).toEqual({
      type: 'error',
      code: 'BAD_REQUEST',
      detail: 'since.offset must be a non-negative integer',
    });
    client.send({ type: 'subscribe', channel: 'no-such-channel' });
    expect(await client.next()).toEqual({
      type: 'error',
      code: 'BAD_REQUEST',
      channel: 'no-such-channel',
      detail: 'unknown channel',
    });
    client.send({ type: 'ack', id: 'm1' });
    expect(await client.drain()).toEqual([]);
  });

  it('refuses a frame nested deeper than 64 levels with an error frame naming the limit, and stays open', async () => {
    const client = await connect(h.owner);
    client.send(`{"type":"ping","pad":${'['.repeat(3_000)}${']'.repeat(3_000)}}`);
    expect(await client.next()).toEqual({
      type: 'error',
      code: 'BAD_REQUEST',
      detail: 'frame nests arrays and objects deeper than 64 levels',
    });
    client.send({ type: 'ping' });
    expect(await client.next()).toEqual({ type: 'pong' });
  });

  it('refuses a subscription past the per-connection channel limit', async () => {
    const client = await connect(h.owner);
    for (const channel of ['queue-updates', 'system-maintenance']) {
      client.send({ type: 'subscribe', channel });
      expect(await client.next()).toMatchObject({ type: 'subscribed', channel });
    }
    client.send({ type: 'subscribe', channel: 'user-activity' });
    expect(await client.next()).toEqual({
      type: 'error',
      code: 'LIMIT',
      channel: 'user-activity',
      detail: 'at most 2 channels',
    });
  });
});

describe('connection lifecycle', () => {
  it('pings peers and terminates one that does not answer', async () => {
    await start({ heartbeatMs: 20, heartbeatTimeoutMs: 20 });
    const answering = await connect(h.owner);
    const silent = await connect(h.owner, { autoPong: false });
    let pings = 0;
    await new Promise<void>((resolve) =>
      answering.socket.on('ping', () => {
        if (++pings === 3) resolve();
      }),
    );
    expect(answering.socket.readyState).toBe(answering.socket.OPEN);
    expect((await silent.closed).code).toBe(1006);
  });

  it('refuses a user past the per-user connection limit with 429', async () => {
    await start({ maxConnectionsPerUser: 1 });
    await connect(h.owner);
    const refusal = await TestClient.refusal(`${baseUrl}?token=${tokenOf(h.owner)}`);
    expect(refusal.status).toBe(429);
    expect(refusal.body.code).toBe('LIMIT');
    await connect(h.stranger);
  });

  it('answers 404 to an upgrade of another path, and that socket does not hold up shutdown', async () => {
    await start();
    const refusal = await TestClient.refusal(baseUrl.replace(/\/ws$/, '/elsewhere'));
    expect(refusal.status).toBe(404);
    await app!.close();
    app = undefined;
  });

  it('closes every socket with 1001 when the server shuts down', async () => {
    await start();
    const client = await connect(h.owner);
    await app!.close();
    app = undefined;
    expect((await client.closed).code).toBe(1001);
  });
});
