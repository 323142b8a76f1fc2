import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_QUOTA_LIMITS } from '@crucible/contracts';
import { Egress, parseAllowlist } from '@crucible/egress';
import type { Engine } from '@crucible/worker';
import { auth, localEngines, register, startApi } from './helpers.js';
import type { Api } from './helpers.js';

/**
 * Fair scheduling (DESIGN.md, "Fair scheduling"), in the mode of the run (a vitest project per
 * backend): free worker slots go to workspaces in turn, so one workspace's backlog never makes
 * another's single test wait behind it.
 */

let api: Api;
/** What the slow engine was asked to test, in the order tests started. */
let started: string[];
/** Running tests of the slow engine, oldest first: calling one finishes it. */
let running: (() => void)[];
/** The SQL the api ran since the last reset. */
const queries: string[] = [];

/** Test-only engine, registered as `performance`: runs until the test finishes it. */
const slow: Engine = (url, _config, ctx) =>
  new Promise((resolve, reject) => {
    started.push(new URL(url).searchParams.get('t')!);
    running.push(() => resolve({ summary: {} }));
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
  });

beforeEach(async () => {
  // A workspace submits 200 tests here in seconds: past the default submissions per minute.
  api = await startApi({
    quotaLimits: { ...DEFAULT_QUOTA_LIMITS, submitRate: null },
    onQuery: (sql) => queries.push(sql),
  });
  started = [];
  running = [];
});

afterEach(async () => {
  await api.close();
});

async function submit(token: string, label: string, priority = 5, testType = 'performance') {
  const res = await api.app.inject({
    method: 'POST',
    url: '/api/test/run',
    headers: auth(token),
    payload: { testType, url: `http://127.0.0.1:8080/?t=${label}`, priority },
  });
  expect(res.statusCode, res.body).toBe(202);
  return res.json().testId as string;
}

/** Finishes the oldest running test `n` times, each time waiting for the test that takes its slot. */
async function nextStarts(n: number): Promise<string[]> {
  const from = started.length;
  for (let i = 0; i < n; i++) {
    const before = started.length;
    running.shift()!();
    await expect.poll(() => started.length, { timeout: 15_000 }).toBeGreaterThan(before);
  }
  return started.slice(from);
}

const SLOTS = 2;

const startWorker = () =>
  api.startWorker({
    concurrency: SLOTS,
    engines: { ...localEngines(), performance: slow },
    dispatchAnnounceGraceMs: 0,
    drainTimeoutMs: 100,
  });

describe('fair scheduling', () => {
  it('starts another workspace’s one test within the next slots, ahead of a 200-test backlog; a third joins likewise', async () => {
    const a = await register(api, 'a@example.com');
    const b = await register(api, 'b@example.com');
    const c = await register(api, 'c@example.com');
    for (let i = 0; i < 200; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => submit(a.token, `a${i + j}`)));
    }
    await startWorker();
    await expect.poll(() => started.length, { timeout: 15_000 }).toBe(SLOTS);
    expect(started.every((t) => t.startsWith('a'))).toBe(true);

    await submit(b.token, 'b');
    expect(await nextStarts(SLOTS)).toContain('b');
    await submit(c.token, 'c');
    expect(await nextStarts(SLOTS)).toContain('c');

    // The queue held no more than the free slots: A's backlog still waits in PostgreSQL.
    const waiting = await api.app.inject({
      method: 'GET',
      url: '/api/test/queue/status',
      headers: auth(a.token),
    });
    expect(waiting.json().queue).toMatchObject({
      waiting: 200 - started.filter((t) => t.startsWith('a')).length,
    });
  });

  it('orders a workspace’s own tests by priority, and releases nothing beyond the free slots', async () => {
    const a = await register(api, 'a@example.com');
    for (const [label, priority] of [
      ['low', 1],
      ['mid', 5],
      ['high', 9],
      ['mid2', 5],
    ] as const) {
      await submit(a.token, label, priority);
    }
    await startWorker();
    await expect.poll(() => started.length, { timeout: 15_000 }).toBe(SLOTS);
    // Released together into two free slots, they start in either order; the rest wait their turn.
    expect([...started].sort()).toEqual(['high', 'mid']);
    const counts = await api.queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
    expect(counts).toMatchObject({ waiting: 0, prioritized: 0, active: SLOTS });
    expect(await nextStarts(2)).toEqual(['mid2', 'low']);
  });
});

describe('position, ETA and wait reason under fair scheduling', () => {
  it('places a workspace’s tests by their turns, not behind another’s backlog, and says when others take their turn first', async () => {
    const a = await register(api, 'a@example.com');
    const b = await register(api, 'b@example.com');
    const mine: string[] = [];
    for (let i = 0; i < 10; i++) mine.push(await submit(a.token, `a${i}`));
    await startWorker();
    await expect.poll(() => started.length, { timeout: 15_000 }).toBe(SLOTS);
    const theirs: string[] = [];
    for (let i = 0; i < 3; i++) theirs.push(await submit(b.token, `b${i}`));

    type Item = { testId: string; queuePosition: number; etaSeconds: number; waitReason: string };
    const queued = async (token: string) => {
      const res = await api.app.inject({
        method: 'GET',
        url: '/api/test/queue/status',
        headers: auth(token),
      });
      return new Map(
        (res.json().tests as (Item & { status: string })[])
          .filter((t) => t.status === 'queued')
          .map((t) => [t.testId, t]),
      );
    };
    // A holds both slots: B's first test is next (position 1, not 9), its second has its own
    // first ahead of it; its third ties with A's next on turns and A's is older.
    const ofB = await queued(b.token);
    expect(theirs.map((id) => [ofB.get(id)!.queuePosition, ofB.get(id)!.waitReason])).toEqual([
      [1, 'every worker slot is busy (2 of 2)'],
      [2, '1 test ahead of it'],
      [4, 'fair share: other workspaces take their turn first — 3 tests ahead of it, 1 of them theirs'],
    ]);
    // A's last waiting test: its seven others, and B's three which take their turns first.
    queries.length = 0;
    const ofA = await queued(a.token);
    // All of A's waiting tests were placed with one read of the fair order, not one each.
    expect(ofA.size).toBe(8);
    expect(queries.filter((q) => /mine AS MATERIALIZED \(/.test(q))).toHaveLength(1);
    const last = ofA.get(mine[9]!)!;
    expect([last.queuePosition, last.waitReason]).toEqual([
      11,
      'fair share: other workspaces take their turn first — 10 tests ahead of it, 3 of them theirs',
    ]);
    // The ETA follows the position: B's first is due before B's third, which is due before A's last.
    const etas = [ofB.get(theirs[0]!)!, ofB.get(theirs[2]!)!, last].map((t) => t.etaSeconds);
    expect([...etas].sort((x, y) => x - y)).toEqual(etas);
    expect(etas[0]).toBeLessThan(etas[1]!);
    // The test's own page says the same.
    const detail = await api.app.inject({
      method: 'GET',
      url: `/api/test/queue/jobs/${theirs[2]}`,
      headers: auth(b.token),
    });
    expect(detail.json()).toMatchObject({
      queuePosition: 4,
      waitReason:
        'fair share: other workspaces take their turn first — 3 tests ahead of it, 1 of them theirs',
    });
  });
});

describe('per-target protection', () => {
  it('runs two stress tests against one host; the third waits queued, its reason in its detail and the queue status, then runs', async () => {
    const egress = new Egress({ allowlist: parseAllowlist('127.0.0.1') });
    await api.startWorker({
      concurrency: 3,
      engines: { ...localEngines(), stress: slow },
      resolveHost: (host) => egress.resolve(host),
      stressRetryMs: 200,
      dispatchAnnounceGraceMs: 0,
      drainTimeoutMs: 100,
    });
    const users = [
      await register(api, 'a@example.com'),
      await register(api, 'b@example.com'),
      await register(api, 'c@example.com'),
    ];
    // One each, so that nothing but the host holds the third back.
    const ids: string[] = [];
    for (const [i, user] of users.entries()) ids.push(await submit(user.token, `s${i}`, 5, 'stress'));
    await expect.poll(() => started.length, { timeout: 15_000 }).toBe(2);

    const waiter = ids[['s0', 's1', 's2'].findIndex((t) => !started.includes(t))]!;
    const owner = users[ids.indexOf(waiter)]!;
    const reason = 'waiting: 2 stress tests already run against this host';
    const detail = async () =>
      (
        await api.app.inject({
          method: 'GET',
          url: `/api/test/queue/jobs/${waiter}`,
          headers: auth(owner.token),
        })
      ).json();
    await expect.poll(async () => (await detail()).waitReason, { timeout: 15_000 }).toBe(reason);
    expect(await detail()).toMatchObject({ status: 'queued', attempts: [] });
    const status = await api.app.inject({
      method: 'GET',
      url: '/api/test/queue/status',
      headers: auth(owner.token),
    });
    expect(status.json().tests).toMatchObject([{ testId: waiter, status: 'queued', waitReason: reason }]);

    expect(await nextStarts(1)).toHaveLength(1);
    await expect.poll(async () => (await detail()).status, { timeout: 15_000 }).toBe('running');
    expect((await detail()).waitReason).toBeNull();
  });
});
