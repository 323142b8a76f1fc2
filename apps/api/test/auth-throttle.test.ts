import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { envTrustProxy } from '../src/env.js';
import { auth, register, startApi } from './helpers.js';
import type { Api } from './helpers.js';

const PASSWORD = 'correct horse battery';

describe('throttling of the credential routes', () => {
  let api: Api | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  const login = (email: string, password: string, remoteAddress = '127.0.0.1') =>
    api!.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email, password },
      remoteAddress,
    });

  const metric = async (labels: string) => {
    const text = (await api!.app.inject({ method: 'GET', url: '/metrics' })).body;
    // The registry adds its `app` label after ours.
    const line = text.split('\n').find((l) => l.startsWith(`crucible_auth_throttled_total{${labels},app=`));
    return line === undefined ? 0 : Number(line.split(' ').pop());
  };

  it('makes an account wait after its free failures, answers 429 with Retry-After, and lets the owner in after the wait', async () => {
    api = await startApi({ authThrottle: { accountFailures: 3, addressFailures: 1_000, maxDelaySec: 3 } });
    await register(api, 'alice@example.com');
    await register(api, 'bob@example.com');
    const attacker = '203.0.113.7';
    for (let i = 0; i < 3; i++) {
      expect((await login('alice@example.com', 'wrong password', attacker)).statusCode).toBe(401);
    }
    // Beyond the free failures one attempt goes through at a time, however many arrive at once.
    const burst = await Promise.all(
      Array.from({ length: 6 }, () => login('alice@example.com', 'wrong password', attacker)),
    );
    expect(burst.map((r) => r.statusCode).sort()).toEqual([401, 429, 429, 429, 429, 429]);
    const refused = burst.find((r) => r.statusCode === 429)!;
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.json()).toMatchObject({
      title: 'Too Many Requests',
      status: 429,
      code: 'TOO_MANY_ATTEMPTS',
    });
    const wait = Math.max(...burst.map((r) => Number(r.headers['retry-after'] ?? 0)));
    await sleep(1_000 * wait);

    // The waits grow with the attempts (here up to the 3 s bound)...
    expect((await login('alice@example.com', 'wrong password', attacker)).statusCode).toBe(401);
    const held = await login('alice@example.com', PASSWORD);
    expect(held.statusCode).toBe(429);
    expect(held.json().detail).toMatch(/^Too many failed sign-ins for this account; try again in [23] s\.$/);
    expect(held.headers['retry-after']).toMatch(/^[23]$/);
    // ...and other accounts from the same address are not held up.
    expect((await login('bob@example.com', PASSWORD, attacker)).statusCode).toBe(200);
    expect(await metric('action="login",by="account"')).toBe(6);

    // After the wait the owner's right password works, and the failures are forgotten.
    await sleep(1_000 * Number(held.headers['retry-after']));
    expect((await login('alice@example.com', PASSWORD)).statusCode).toBe(200);
    expect((await login('alice@example.com', 'wrong password', attacker)).statusCode).toBe(401);
  });

  it('lets the owner in from an address it signed in from while someone else is guessing', async () => {
    api = await startApi({ authThrottle: { accountFailures: 2, addressFailures: 1_000, maxDelaySec: 60 } });
    await register(api, 'alice@example.com');
    expect((await login('alice@example.com', PASSWORD, '192.0.2.10')).statusCode).toBe(200);
    for (let i = 0; i < 2; i++) await login('alice@example.com', 'wrong password', '203.0.113.7');
    const burst = await Promise.all(
      Array.from({ length: 5 }, () => login('alice@example.com', 'wrong password', '203.0.113.7')),
    );
    expect(burst.map((r) => r.statusCode).sort()).toEqual([401, 429, 429, 429, 429]);
    expect((await login('alice@example.com', PASSWORD, '192.0.2.10')).statusCode).toBe(200);
  });

  it('makes a client address wait after its free failures over any accounts, IPv6 counted per /64', async () => {
    api = await startApi({ authThrottle: { accountFailures: 1_000, addressFailures: 3, maxDelaySec: 60 } });
    await register(api, 'alice@example.com');
    for (let i = 0; i < 3; i++) {
      const res = await login(`nobody${i}@example.com`, 'wrong password', '2001:db8:1:2::a');
      expect(res.statusCode).toBe(401);
    }
    const burst = await Promise.all(
      ['2001:db8:1:2::b', '2001:db8:1:2::c', '2001:db8:1:2:ffff::d', '2001:db8:1:2::e'].map((address, i) =>
        login(`other${i}@example.com`, 'wrong password', address),
      ),
    );
    expect(burst.map((r) => r.statusCode).sort()).toEqual([401, 429, 429, 429]);
    expect(burst.find((r) => r.statusCode === 429)!.json().detail).toMatch(
      /^Too many failed sign-ins from your address; try again in \d+ s\.$/,
    );
    expect(await metric('action="login",by="address"')).toBe(3);
    // Another /64, and an IPv4 client, sign in at once.
    expect((await login('alice@example.com', PASSWORD, '2001:db8:1:3::a')).statusCode).toBe(200);
    expect((await login('alice@example.com', PASSWORD, '198.51.100.1')).statusCode).toBe(200);
  });

  it('behind a trusted proxy counts the client named by X-Forwarded-For, not the proxy', async () => {
    api = await startApi({
      authThrottle: { accountFailures: 1_000, addressFailures: 1, maxDelaySec: 60 },
      trustProxy: envTrustProxy({ TRUST_PROXY: '1' }),
    });
    await register(api, 'alice@example.com');
    const viaProxy = (client: string, password: string) =>
      api!.app.inject({
        method: 'POST',
        url: '/api/auth/login',
        payload: { email: 'alice@example.com', password },
        remoteAddress: '10.0.0.2',
        headers: { 'x-forwarded-for': `198.51.100.66, ${client}` },
      });
    const burst = await Promise.all(Array.from({ length: 3 }, () => viaProxy('192.0.2.1', 'wrong password')));
    expect(burst.map((r) => r.statusCode).sort()).toEqual([401, 401, 429]);
    expect((await viaProxy('192.0.2.2', PASSWORD)).statusCode).toBe(200);
  });

  it('limits registrations per client address and API keys per user, each per hour', async () => {
    api = await startApi({ authThrottle: { registrationsPerHour: 2, apiKeysPerHour: 2 } });
    const registerFrom = (email: string, remoteAddress: string) =>
      api!.app.inject({
        method: 'POST',
        url: '/api/auth/register',
        payload: { email, password: PASSWORD },
        remoteAddress,
      });
    expect((await registerFrom('a@example.com', '198.51.100.7')).statusCode).toBe(201);
    expect((await registerFrom('b@example.com', '198.51.100.7')).statusCode).toBe(201);
    const third = await registerFrom('c@example.com', '198.51.100.7');
    expect(third.statusCode).toBe(429);
    expect(Number(third.headers['retry-after'])).toBeGreaterThan(3_500);
    expect(third.json().detail).toMatch(
      /^Too many accounts registered from your address; try again in \d+ s\.$/,
    );
    expect((await registerFrom('c@example.com', '198.51.100.8')).statusCode).toBe(201);
    expect(await metric('action="register",by="address"')).toBe(1);

    const { token } = await register(api, 'keys@example.com');
    const createKey = () =>
      api!.app.inject({
        method: 'POST',
        url: '/api/auth/api-keys',
        headers: auth(token),
        payload: { name: 'ci' },
      });
    expect((await createKey()).statusCode).toBe(201);
    expect((await createKey()).statusCode).toBe(201);
    const refused = await createKey();
    expect(refused.statusCode).toBe(429);
    expect(refused.json().detail).toMatch(/^Too many API keys created; try again in \d+ s\.$/);
    expect(await metric('action="api-key",by="user"')).toBe(1);
  });
});
