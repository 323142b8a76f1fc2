import { generateApiKey, hashApiKey } from '@crucible/runtime';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { connect, h, metricValue, signIn, startGateway, tokenOf, track, useHarness } from './harness.js';
import { TestClient } from './ws-client.js';

useHarness();

describe('WebSocket tickets', () => {
  it('opens a socket once per ticket, as the user it was issued to, and never logs it', async () => {
    const gateway = await startGateway();
    const { ticket } = await h.tickets.issue({ userId: h.owner.id, email: h.owner.email, role: 'user' });
    const client = track(await TestClient.connect(`${gateway.url}?ticket=${ticket}`));
    expect(await client.next()).toMatchObject({ event: 'connection:established', userId: h.owner.id });

    const again = await TestClient.refusal(`${gateway.url}?ticket=${ticket}`);
    expect(again.status).toBe(401);
    const log = gateway.logLines.join('');
    expect(log).toContain('ticket=[REDACTED]');
    expect(log).not.toContain(ticket);
  });

  it('refuses an expired ticket', async () => {
    const tickets = h.ticketsWith({ ttlMs: 1 });
    const gateway = await startGateway({ tickets });
    const { ticket } = await tickets.issue({ userId: h.owner.id, email: h.owner.email, role: 'user' });
    // Its millisecond is long over: both stores check the expiry on every read.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await TestClient.refusal(`${gateway.url}?ticket=${ticket}`)).status).toBe(401);
  });
});

describe('origin allowlist', () => {
  it('refuses a foreign Origin with 403 and admits a listed one, or none (non-browser clients)', async () => {
    const gateway = await startGateway({ allowedOrigins: ['https://app.example.test'] });
    const token = tokenOf(h.owner);
    const foreign = await TestClient.refusal(`${gateway.url}?token=${token}`, {
      headers: { origin: 'https://evil.example.test' },
    });
    expect(foreign.status).toBe(403);
    expect(foreign.body).toMatchObject({ code: 'FORBIDDEN', detail: 'origin not allowed' });
    for (const headers of [{ origin: 'https://app.example.test' }, {}] as Record<string, string>[]) {
      const client = track(await TestClient.connect(`${gateway.url}?token=${token}`, { headers }));
      expect(await client.next()).toMatchObject({ event: 'connection:established' });
    }
  });
});

describe('API key revocation', () => {
  it('closes the sockets of a revoked key (4001) and leaves the others open', async () => {
    const gateway = await startGateway({ revalidateMs: 100 });
    const keys = [generateApiKey(), generateApiKey()];
    const rows = [];
    for (const key of keys)
      rows.push(await h.apiKeys.create(h.owner.id, 'ci', hashApiKey(key), key.slice(0, 10)));
    const revoked = track(await TestClient.connect(`${gateway.url}?token=${keys[0]}`));
    const kept = track(
      await TestClient.connect(gateway.url, { headers: { authorization: `Bearer ${keys[1]}` } }),
    );
    // A ticket bought with a key carries it too.
    const { ticket } = await h.tickets.issue({
      userId: h.owner.id,
      email: h.owner.email,
      role: 'user',
      apiKeyId: rows[0]!.id,
    });
    const viaTicket = track(await TestClient.connect(`${gateway.url}?ticket=${ticket}`));
    for (const client of [revoked, kept, viaTicket])
      expect((await client.next()).event).toBe('connection:established');

    expect(await h.apiKeys.revoke(h.owner.id, rows[0]!.id)).toBe(true);
    expect(await revoked.closed).toEqual({ code: 4001, reason: 'credential revoked' });
    expect((await viaTicket.closed).code).toBe(4001);
    kept.send({ type: 'ping' });
    expect(await kept.next()).toEqual({ type: 'pong' });
    expect(await TestClient.refusal(`${gateway.url}?token=${keys[0]}`)).toMatchObject({ status: 401 });
  });
});

describe('sign-out', () => {
  it('closes the sockets of a session that signed out (4001) and leaves the user’s other sessions open', async () => {
    const gateway = await startGateway({ revalidateMs: 100 });
    const [signingOut, staying] = [await signIn(h.owner), await signIn(h.owner)];
    const viaToken = track(await TestClient.connect(`${gateway.url}?token=${signingOut.token}`));
    // A ticket bought with the session's token carries the session too.
    const { ticket } = await h.tickets.issue({
      userId: h.owner.id,
      email: h.owner.email,
      role: 'user',
      sessionId: signingOut.sessionId,
    });
    const viaTicket = track(await TestClient.connect(`${gateway.url}?ticket=${ticket}`));
    const kept = track(
      await TestClient.connect(gateway.url, { headers: { authorization: `Bearer ${staying.token}` } }),
    );
    for (const client of [viaToken, viaTicket, kept])
      expect((await client.next()).event).toBe('connection:established');

    expect(await h.sessions.revoke(h.owner.id, signingOut.sessionId)).toBe(true);
    expect(await viaToken.closed).toEqual({ code: 4001, reason: 'session ended' });
    expect(await viaTicket.closed).toEqual({ code: 4001, reason: 'session ended' });
    kept.send({ type: 'ping' });
    expect(await kept.next()).toEqual({ type: 'pong' });
    // The authenticator's cache is off here (TTL 0): the ended session is refused at once.
    expect(await TestClient.refusal(`${gateway.url}?token=${signingOut.token}`)).toMatchObject({
      status: 401,
    });
  });
});

describe('occupancy and metrics', () => {
  it('shows an admin how many local readers each channel has; others get 403, anonymous 401', async () => {
    const metrics = new Registry();
    const gateway = await startGateway({ metrics });
    const readers = [await connect(gateway, h.owner), await connect(gateway, h.stranger)];
    for (const client of readers) client.send({ type: 'subscribe', channel: 'system-maintenance' });
    readers[0]!.send({ type: 'subscribe', channel: 'queue-updates' });
    for (const client of readers) expect((await client.next()).type).toBe('subscribed');
    expect((await readers[0]!.next()).type).toBe('subscribed');

    const get = (token?: string) =>
      fetch(
        `${gateway.httpUrl}/gateway/channels`,
        token ? { headers: { authorization: `Bearer ${token}` } } : {},
      );
    const asAdmin = await get(tokenOf(h.admin));
    expect(asAdmin.status).toBe(200);
    expect(await asAdmin.json()).toEqual({
      gatewayId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      connections: 2,
      channels: { 'queue-updates': 1, 'system-maintenance': 2 },
    });
    expect((await get(tokenOf(h.owner))).status).toBe(403);
    expect((await get()).status).toBe(401);

    const text = await metrics.metrics();
    expect(metricValue(text, 'crucible_gateway_connections')).toBe(2);
    expect(metricValue(text, 'crucible_gateway_subscriptions')).toBe(3);
    expect(metricValue(text, 'crucible_gateway_bus_channels')).toBe(2);
  });
});
