import { once } from 'node:events';
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRedisBackplane } from '@crucible/backplane';
import { ApiKeysRepository, SessionsRepository } from '@crucible/db';
import { parseAllowlist } from '@crucible/egress';
import { createAuthenticator, generateApiKey, hashApiKey } from '@crucible/runtime';
import { buildApi } from '../src/app.js';
import { REDIS_URL, auth, register, startApi } from './helpers.js';
import type { Api } from './helpers.js';

const BODY = { testType: 'performance', url: 'http://127.0.0.1:8080/', config: { iterations: 1 } };

let api: Api;
let alice: Awaited<ReturnType<typeof register>>;
let bob: Awaited<ReturnType<typeof register>>;

beforeEach(async () => {
  api = await startApi();
  alice = await register(api, 'alice@example.com');
  bob = await register(api, 'bob@example.com');
});

afterEach(async () => {
  await api.close();
});

const submit = (token: string, payload: object, headers: Record<string, string> = {}, app = api.app) =>
  app.inject({ method: 'POST', url: '/api/test/run', headers: { ...auth(token), ...headers }, payload });

const rowIds = async () =>
  (await api.db.kysely.selectFrom('test_queue').select('test_id').execute()).map((r) => r.test_id);

/** Queued tests not released to the queue yet, sorted. */
const waitingTurn = async () =>
  (
    await api.db.kysely
      .selectFrom('test_queue')
      .select('test_id')
      .where('status', '=', 'queued')
      .where('dispatched_at', 'is', null)
      .execute()
  )
    .map((r) => r.test_id)
    .sort();

/** An API on the suite's services, but for what a test sets itself (batching, positions, queue). */
const apiWith = (deps: Partial<Parameters<typeof buildApi>[0]>) =>
  buildApi({
    db: api.db,
    backplane: api.backplane,
    tokens: api.tokens,
    cache: api.cache,
    targetAllowlist: parseAllowlist('127.0.0.1'),
    ...deps,
  });

describe('accepting submissions together', () => {
  it('accepts 200 concurrent submissions: each row exactly once, waiting its turn, distinct positions, one event each', async () => {
    // Every flush counts afresh (exact positions) however many are queued.
    const app = await apiWith({ positions: { exactBelow: 1_000 } });
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        submit(i % 2 ? alice.token : bob.token, { ...BODY, name: `t${i}` }, {}, app),
      ),
    ).finally(() => app.close());
    expect(responses.map((r) => r.statusCode)).toEqual(responses.map(() => 202));
    const accepted = responses.map((r) => r.json() as { testId: string; queuePosition: number });
    const ids = accepted.map((a) => a.testId);
    expect(new Set(ids).size).toBe(200);
    expect((await rowIds()).sort()).toEqual([...ids].sort());
    // Every one of the same priority, none ahead: positions are exactly 1..200.
    expect(accepted.map((a) => a.queuePosition).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    // No worker has a free slot: every one waits on its workspace's list, none is in the queue yet.
    expect(await waitingTurn()).toEqual([...ids].sort());
    const counts = await api.queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
    for (const { testId, queuePosition } of accepted) {
      const history = await api.eventLog.recover(`job-status-${testId}`, 0);
      expect(
        history.messages.map((m) => [m.event, (m.data as { queuePosition: number }).queuePosition]),
      ).toEqual([['queue:job:added', queuePosition]]);
    }
    // Each row's name is its own request's: no answer was crossed with another's.
    const rows = await api.db.kysely
      .selectFrom('test_queue')
      .select(['test_id', 'test_name', 'user_id'])
      .execute();
    const byId = new Map(rows.map((r) => [r.test_id, r]));
    accepted.forEach((a, i) => {
      expect(byId.get(a.testId)).toMatchObject({ test_name: `t${i}`, user_id: i % 2 ? alice.id : bob.id });
    });
  });

  it('fails only the invalid submissions of a batch', async () => {
    const bodies: object[] = Array.from({ length: 20 }, (_, i) => ({ ...BODY, name: `ok${i}` }));
    bodies[5] = { ...BODY, url: 'http://169.254.169.254/latest/meta-data' };
    // Valid JSON that PostgreSQL cannot store (a NUL character in text): only known in the INSERT.
    bodies[12] = { ...BODY, name: 'nul\u0000name' };
    const responses = await Promise.all(bodies.map((b) => submit(alice.token, b)));
    const codes = responses.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 202)).toHaveLength(18);
    expect(codes[5]).toBe(400);
    expect(responses[5]!.json().code).toBe('TARGET_REFUSED');
    expect(codes[12]).toBe(400);
    expect(responses[12]!.json().code).toBe('INVALID_BODY');
    const ids = responses.filter((r) => r.statusCode === 202).map((r) => r.json().testId as string);
    expect((await rowIds()).sort()).toEqual(ids.sort());
    expect(await waitingTurn()).toEqual(ids.sort());
  });

  it('collapses a key repeated within one batch into one test; another body with it is 422', async () => {
    // A window long enough that the concurrent requests below share a flush (the assertions hold
    // however they are split).
    const app = await apiWith({ groupCommit: { windowMs: 100, maxInFlight: 1 } });
    try {
      const key = { 'idempotency-key': 'batch-key' };
      const other = { ...BODY, priority: 9 };
      const responses = await Promise.all([
        ...Array.from({ length: 10 }, () => submit(alice.token, BODY, key, app)),
        submit(alice.token, other, key, app),
        // Other keys and no key, in the same batch.
        submit(alice.token, BODY, { 'idempotency-key': 'other-key' }, app),
        submit(bob.token, BODY, key, app),
        submit(alice.token, BODY, {}, app),
      ]);
      const keys = await api.db.kysely.selectFrom('idempotency_keys').selectAll().execute();
      expect(keys).toHaveLength(3);
      const won = keys.find((k) => k.user_id === alice.id && k.key === 'batch-key')!;
      // Whichever body came first owns the key: every request with it answers its one test, with
      // the other body 422.
      const sameBody = responses.slice(0, 10);
      const firstWon = sameBody.some((r) => r.statusCode === 202 && r.json().testId === won.test_id);
      const winners = firstWon ? sameBody : [responses[10]!];
      const losers = firstWon ? [responses[10]!] : sameBody;
      for (const r of winners) expect(r.json()).toMatchObject({ testId: won.test_id });
      expect(winners.map((r) => r.statusCode)).toEqual(winners.map(() => 202));
      expect(winners.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(
        winners.length - 1,
      );
      for (const r of losers) expect(r.json()).toMatchObject({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
      for (const r of responses.slice(11)) expect(r.statusCode).toBe(202);
      const others = responses.slice(11).map((r) => r.json().testId as string);
      expect(new Set([won.test_id, ...others]).size).toBe(4);
      expect((await rowIds()).sort()).toEqual([won.test_id, ...others].sort());
      expect(await waitingTurn()).toEqual([won.test_id, ...others].sort());

      // A later batch replays it; an expired key is used as if it were new.
      const body = firstWon ? BODY : other;
      const again = await Promise.all([
        submit(alice.token, body, key, app),
        submit(alice.token, body, key, app),
      ]);
      expect(again.map((r) => r.json().testId)).toEqual([won.test_id, won.test_id]);
      await sql`UPDATE idempotency_keys SET created_at = now() - interval '25 hours'`.execute(api.db.kysely);
      const fresh = await Promise.all([
        submit(alice.token, body, key, app),
        submit(alice.token, body, key, app),
      ]);
      expect(fresh.map((r) => r.statusCode)).toEqual([202, 202]);
      const freshId = fresh[0]!.json().testId as string;
      expect(freshId).not.toBe(won.test_id);
      expect(fresh[1]!.json().testId).toBe(freshId);
    } finally {
      await app.close();
    }
  });

  it('accepts while Redis is unreachable: the tests wait in PostgreSQL and are released once a worker can', async () => {
    // The API's queue reaches Redis through a proxy the test can pull.
    const sockets = new Set<Socket>();
    const redisPort = Number(new URL(REDIS_URL).port || 6379);
    const proxy: Server = createServer((client) => {
      const upstream = connect(redisPort, new URL(REDIS_URL).hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    const backplane = createRedisBackplane({
      url: `redis://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      prefix: api.prefix,
    });
    await backplane.waitUntilReady();
    await backplane.queue.waitUntilReady();
    const app = await apiWith({ backplane });
    try {
      expect((await submit(alice.token, BODY, {}, app)).statusCode).toBe(202);
      await sql`TRUNCATE test_queue CASCADE`.execute(api.db.kysely);

      proxy.close();
      for (const s of sockets) s.destroy();
      await expect.poll(() => backplane.checks.redis!().catch(() => false)).toBe(false);

      const responses = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          submit(alice.token, BODY, i % 3 === 0 ? { 'idempotency-key': `k${i}` } : {}, app),
        ),
      );
      // PostgreSQL is the record: accepting needs nothing of Redis (announcements are best effort).
      expect(responses.map((r) => r.statusCode)).toEqual(responses.map(() => 202));
      const ids = responses.map((r) => r.json().testId as string).sort();
      expect(await waitingTurn()).toEqual(ids);
      expect(await api.db.kysely.selectFrom('idempotency_keys').selectAll().execute()).toHaveLength(10);

      // No wake-up reached a worker: its dispatcher releases them after the announcement grace.
      await api.startWorker({
        dispatchAnnounceGraceMs: 500,
        engines: { performance: async () => ({ summary: {} }) },
      });
      await expect.poll(waitingTurn, { timeout: 15_000 }).toEqual([]);
      await expect
        .poll(() => api.queue.getJobCounts('completed').then((c) => c.completed), { timeout: 15_000 })
        .toBe(30);
    } finally {
      await app.close();
      await backplane.close();
    }
  });

  it('places later batches from a reused count plus the tests accepted since', async () => {
    // Reuse one count for an hour, whatever the queue's size: later positions come from what this
    // process accepted since.
    const reusing = await apiWith({ positions: { exactBelow: 0, maxAgeMs: 3_600_000 } });
    try {
      const positions: number[] = [];
      for (const priority of [5, 5, 1, 10, 5]) {
        const res = await submit(alice.token, { ...BODY, priority }, {}, reusing);
        positions.push(res.json().queuePosition);
      }
      // 5 → 1, 5 → 2, 1 → 3 (behind both), 10 → 1 (ahead of all), 5 → 4 (behind the 10 and two 5s).
      expect(positions).toEqual([1, 2, 3, 1, 4]);
    } finally {
      await reusing.close();
    }
  });
});

describe('authentication lookups', () => {
  it('remembers a key for the TTL only, and forgets it at once when told', async () => {
    let now = 1_000_000;
    const apiKeys = new ApiKeysRepository(api.db.kysely);
    const authenticate = createAuthenticator({
      apiKeys,
      sessions: new SessionsRepository(api.db.kysely),
      tokens: api.tokens,
      cacheTtlMs: 5_000,
      now: () => now,
    });
    const key = generateApiKey();
    const { id } = await apiKeys.create(alice.id, 'ci', hashApiKey(key), key.slice(0, 8));
    expect((await authenticate(key))?.id).toBe(alice.id);

    // Revoked behind this process's back: remembered until the TTL is over, then refused.
    await api.db.kysely
      .updateTable('api_keys')
      .set({ revoked_at: new Date() })
      .where('id', '=', id)
      .execute();
    expect((await authenticate(key))?.id).toBe(alice.id);
    now += 5_001;
    expect(await authenticate(key)).toBeUndefined();

    // A user's role read once, forgotten on demand.
    expect((await authenticate(bob.token))?.role).toBe('user');
    await api.db.kysely.updateTable('users').set({ role: 'admin' }).where('id', '=', bob.id).execute();
    expect((await authenticate(bob.token))?.role).toBe('user');
    authenticate.forget({ userId: bob.id });
    expect((await authenticate(bob.token))?.role).toBe('admin');
    expect(await authenticate('not-a-token')).toBeUndefined();
  });
});
