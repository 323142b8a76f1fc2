import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { freePort } from '@crucible/db/testing';
import { RedisConnectionRegistry } from '@crucible/backplane';
import { afterEach, expect, it } from 'vitest';
import {
  JWT_SECRET,
  REDIS_URL,
  connect,
  distributedOnly,
  h,
  startGateway,
  tokenOf,
  track,
  useHarness,
} from './harness.js';
import type { GatewayHandle } from './harness.js';
import { TestClient } from './ws-client.js';

useHarness();

const APP_DIR = fileURLToPath(new URL('../', import.meta.url));
const LEASE_MS = 1_000;

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
});

/** The real gateway process (src/main.ts) on this test's database and prefix. */
async function startGatewayProcess(): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: APP_DIR,
    env: {
      ...process.env,
      DATABASE_URL: h.databaseUrl,
      REDIS_URL,
      JWT_SECRET,
      CRUCIBLE_PREFIX: h.prefix,
      GATEWAY_PORT: String(port),
      GATEWAY_LEASE_MS: String(LEASE_MS),
      MIGRATE_ON_START: 'false',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  await expect
    .poll(
      async () => {
        if (child.exitCode !== null) throw new Error(`the gateway exited:\n${output}`);
        return fetch(`http://127.0.0.1:${port}/health/ready`).then(
          (res) => res.status,
          () => 0,
        );
      },
      { timeout: 30_000, interval: 100 },
    )
    .toBe(200);
  return { child, url: `ws://127.0.0.1:${port}/ws` };
}

/** An in-process gateway whose registry renews and sweeps on the test's short lease. */
async function startSweepingGateway(): Promise<GatewayHandle> {
  const connections = new RedisConnectionRegistry(h.redis, { prefix: h.prefix, leaseMs: LEASE_MS });
  const gateway = await startGateway({ connections });
  // Registered after the harness's own close, so it runs once the gateway is closed.
  const close = gateway.close;
  gateway.close = async () => {
    await close();
    await connections.close();
  };
  return gateway;
}

distributedOnly('a gateway that dies (distributed mode only: gateway processes share Redis)', () => {
  it("frees its sockets' places and has a live gateway publish user:offline once, for users left with none", async () => {
    // Two live gateways sweep: each user must still go offline exactly once.
    const [live, other] = [await startSweepingGateway(), await startSweepingGateway()];
    const doomed = await startGatewayProcess();
    const watcher = await connect(live, h.admin);
    watcher.send({ type: 'subscribe', channel: 'user-activity' });
    expect(await watcher.next()).toMatchObject({ type: 'subscribed', channel: 'user-activity' });

    // The owner only on the doomed gateway (twice); the stranger there and on a live one.
    const onDoomed = [];
    for (const user of [h.owner, h.owner, h.stranger]) {
      const client = track(await TestClient.connect(`${doomed.url}?token=${tokenOf(user)}`));
      expect(await client.next()).toMatchObject({ event: 'connection:established' });
      onDoomed.push(client);
    }
    const strangerLive = await connect(other, h.stranger);
    const online = [await watcher.next(), await watcher.next()];
    expect(online.map((m) => [m.event, m.userId]).sort()).toEqual(
      [
        ['user:online', h.owner.id],
        ['user:online', h.stranger.id],
      ].sort(),
    );
    expect(await h.redis.zcard(`${h.prefix}:conns:${h.owner.id}`)).toBe(2);

    // No clean shutdown: nothing is released, nothing is published by the dying process.
    doomed.child.kill('SIGKILL');
    await Promise.all(onDoomed.map((client) => client.closed));

    const offline = await watcher.next();
    expect(offline).toMatchObject({
      event: 'user:offline',
      userId: h.owner.id,
      data: { userId: h.owner.id },
    });
    // The stranger still has a socket on a live gateway: not offline, and nothing twice.
    expect(await watcher.drain()).toEqual([]);
    expect(await h.redis.exists(`${h.prefix}:conns:${h.owner.id}`)).toBe(0);
    // Its dead socket stops counting once its own lease runs out (the next acquire or release also
    // deletes it); the live one is renewed.
    const liveLeases = async () => {
      const [seconds, micros] = await h.redis.time();
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      return h.redis.zcount(`${h.prefix}:conns:${h.stranger.id}`, now, '+inf');
    };
    await expect.poll(liveLeases, { timeout: 10_000 }).toBe(1);

    // The owner's places are free again: as many sockets as the limit allows.
    const back = [];
    for (let i = 0; i < 10; i++) back.push(await connect(i % 2 ? live : other, h.owner));
    expect(await watcher.next()).toMatchObject({ event: 'user:online', userId: h.owner.id });
    await Promise.all(back.map((client) => client.close()));
    await strangerLive.close();
    const last = [await watcher.next(), await watcher.next()];
    expect(last.map((m) => [m.event, m.userId]).sort()).toEqual(
      [
        ['user:offline', h.owner.id],
        ['user:offline', h.stranger.id],
      ].sort(),
    );
    expect(await watcher.drain()).toEqual([]);
    // Only the watcher (the admin) is left on the index of users with a place.
    expect(await h.redis.zrange(`${h.prefix}:conns-index`, 0, -1)).toEqual([h.admin.id]);
  });
});
