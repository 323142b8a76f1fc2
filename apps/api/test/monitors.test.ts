import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, register, startApi, startTarget } from './helpers.js';
import type { Api } from './helpers.js';

type User = Awaited<ReturnType<typeof register>>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Monitors (issue 23): CRUD, validation, the scheduler's slots and the state a monitor's runs give it. */
describe('monitors', () => {
  let api: Api;
  let alice: User;
  let bob: User;
  let site: Awaited<ReturnType<typeof startTarget>>;
  let failing = false;

  beforeAll(async () => {
    api = await startApi({ monitorMinIntervalSeconds: 1 });
    alice = await register(api, `alice-${randomUUID()}@example.test`);
    bob = await register(api, `bob-${randomUUID()}@example.test`);
    site = await startTarget((_req, res) => {
      res.writeHead(failing ? 500 : 200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });

  afterAll(async () => {
    await api.close();
    await site.close();
  });

  const call = (user: User, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    api.app.inject({ method, url, headers: auth(user.token), ...(payload ? { payload } : {}) });

  const apiTest = () => ({
    testType: 'api',
    url: site.url,
    config: { steps: [{ name: 'home', assert: { status: 200 } }] },
  });

  async function create(user: User, body: object) {
    const res = await call(user, 'POST', '/api/monitors', body);
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { id: string; nextRunAt: string | null; status: string };
  }

  async function runsOf(user: User, id: string) {
    const res = await call(user, 'GET', `/api/monitors/${id}/runs?limit=200`);
    expect(res.statusCode, res.body).toBe(200);
    return (res.json() as { items: { scheduledFor: string; outcome: string; testId: string | null; status: string | null; state: string | null; reason: string | null }[] }).items;
  }

  it('validates the test part exactly like POST /api/test/run, and the schedule', async () => {
    const badTest = { testType: 'performance', url: site.url, config: { iterations: 0 } };
    const run = await call(alice, 'POST', '/api/test/run', badTest);
    const mon = await call(alice, 'POST', '/api/monitors', { name: 'x', test: badTest, schedule: { everySeconds: 60 } });
    expect(run.statusCode).toBe(400);
    expect(mon.statusCode).toBe(400);
    expect(mon.json().code).toBe(run.json().code);
    expect(mon.json().detail).toBe(run.json().detail.replace('body.', 'body.test.'));

    const threshold = await call(alice, 'POST', '/api/monitors', {
      name: 'x',
      test: { testType: 'performance', url: site.url, thresholds: ['latency.p95 < 3'] },
      schedule: { everySeconds: 60 },
    });
    expect(threshold.statusCode).toBe(400);
    expect(threshold.json().code).toBe('INVALID_THRESHOLD');

    const schedule = async (s: object) => (await call(alice, 'POST', '/api/monitors', { name: 'x', test: apiTest(), schedule: s })).json();
    expect(await schedule({ everySeconds: 0 })).toMatchObject({ status: 400 });
    expect(await schedule({ cron: '*/5 * * * * *' })).toMatchObject({ code: 'INVALID_SCHEDULE' });
    expect(await schedule({ cron: '0 9 * * *', timezone: 'Mars/Olympus' })).toMatchObject({
      code: 'INVALID_SCHEDULE',
      detail: 'schedule.timezone: Mars/Olympus is not an IANA time zone',
    });
    const browser = await call(alice, 'POST', '/api/monitors', {
      name: 'x',
      test: { testType: 'browser', url: site.url },
      schedule: { everySeconds: 60 },
    });
    expect(browser.statusCode).toBe(400);
    expect(browser.json().code).toBe('MONITOR_TYPE_UNSUPPORTED');
    const list = await call(alice, 'GET', '/api/monitors');
    expect(list.json().items).toEqual([]);
  });

  it('refuses an interval under MONITOR_MIN_INTERVAL_SECONDS', async () => {
    const strict = await startApi({ monitorMinIntervalSeconds: 30 });
    try {
      const carol = await register(strict, `carol-${randomUUID()}@example.test`);
      const res = await strict.app.inject({
        method: 'POST',
        url: '/api/monitors',
        headers: auth(carol.token),
        payload: { name: 'x', test: apiTest(), schedule: { everySeconds: 29 } },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ code: 'INVALID_SCHEDULE', detail: 'schedule.everySeconds must be >= 30' });
    } finally {
      await strict.close();
    }
  });

  it('creates, reads, edits and deletes; another workspace sees 404', async () => {
    const m = await create(alice, {
      name: 'home page',
      test: apiTest(),
      schedule: { cron: '0 9 * * 1-5', timezone: 'Europe/Paris' },
      enabled: false,
    });
    expect(m).toMatchObject({ name: 'home page', enabled: false, status: 'paused', nextRunAt: null });
    expect((await call(bob, 'GET', `/api/monitors/${m.id}`)).statusCode).toBe(404);
    expect((await call(bob, 'PATCH', `/api/monitors/${m.id}`, { name: 'mine' })).statusCode).toBe(404);
    expect((await call(bob, 'DELETE', `/api/monitors/${m.id}`)).statusCode).toBe(404);
    expect((await call(bob, 'POST', `/api/monitors/${m.id}/run`)).statusCode).toBe(404);

    const resumed = await call(alice, 'PATCH', `/api/monitors/${m.id}`, { enabled: true, name: 'home' });
    expect(resumed.statusCode, resumed.body).toBe(200);
    const next = new Date(resumed.json().nextRunAt);
    // 09:00 in Paris on a weekday, in the future.
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', hour: '2-digit', minute: '2-digit' }).format(next)).toBe('09:00');
    expect(resumed.json()).toMatchObject({ name: 'home', status: 'pending', schedule: { cron: '0 9 * * 1-5', timezone: 'Europe/Paris' } });

    expect((await call(alice, 'DELETE', `/api/monitors/${m.id}`)).statusCode).toBe(204);
    expect((await call(alice, 'GET', `/api/monitors/${m.id}`)).statusCode).toBe(404);
  });

  it('runs each slot once with two schedulers, records the state its runs give it and announces changes', async () => {
    await api.startWorker();
    await api.startWorker();
    const m = await create(alice, { name: 'every second', test: apiTest(), schedule: { everySeconds: 1 } });
    await expect.poll(async () => (await runsOf(alice, m.id)).filter((r) => r.state === 'up').length, { timeout: 20_000 }).toBeGreaterThanOrEqual(3);
    failing = true;
    await expect.poll(async () => (await call(alice, 'GET', `/api/monitors/${m.id}`)).json().status, { timeout: 20_000 }).toBe('down');
    failing = false;
    await expect.poll(async () => (await call(alice, 'GET', `/api/monitors/${m.id}`)).json().status, { timeout: 20_000 }).toBe('up');
    const paused = await call(alice, 'PATCH', `/api/monitors/${m.id}`, { enabled: false });
    expect(paused.json()).toMatchObject({ status: 'paused', nextRunAt: null });
    const pausedAt = Date.now();

    const runs = await runsOf(alice, m.id);
    const slots = runs.map((r) => r.scheduledFor);
    expect(new Set(slots).size).toBe(slots.length);
    // One run per second, none skipped over while schedulers were up.
    const times = slots.map((s) => Date.parse(s)).sort((a, b) => a - b);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(1000);
    expect(runs.every((r) => r.outcome === 'run')).toBe(true);
    // Every run hit the target once: no slot ran twice.
    await expect.poll(async () => (await runsOf(alice, m.id)).every((r) => ['completed', 'failed', 'cancelled'].includes(r.status!)), { timeout: 20_000 }).toBe(true);
    const { rows } = await api.db.kysely
      .selectFrom('test_queue')
      .select(['test_id'])
      .where('monitor_id', '=', m.id)
      .execute()
      .then((r) => ({ rows: r }));
    expect(rows.length).toBe(runs.length);

    // Paused at once: no slot after the answer.
    await sleep(2_500);
    const after = (await runsOf(alice, m.id)).filter((r) => Date.parse(r.scheduledFor) > pausedAt);
    expect(after).toEqual([]);

    const events = (await api.eventLog.recover(`team-${(await workspaceOf(alice)).id}`, 0)).messages;
    const changes = events.filter((e) => e.event === 'monitor:status').map((e) => `${(e.data as { from: string | null }).from}→${(e.data as { to: string }).to}`);
    expect(changes).toEqual(['null→up', 'up→down', 'down→up']);
  }, 90_000);

  it('records slots older than the grace as missed after an outage, and runs none of them late', async () => {
    // As after an outage of every process: the monitor's next slot is long past.
    const m = await create(alice, { name: 'outage', test: apiTest(), schedule: { everySeconds: 1 } });
    const past = new Date(Math.floor(Date.now() / 1000) * 1000 - 20_000);
    await api.db.kysely.updateTable('monitors').set({ next_run_at: past }).where('id', '=', m.id).execute();
    // 20 s away, 5 s of lateness allowed: at least 14 slots missed.
    await expect.poll(async () => (await runsOf(alice, m.id)).filter((r) => r.outcome === 'missed').length, { timeout: 10_000 }).toBeGreaterThanOrEqual(14);
    const runs = (await runsOf(alice, m.id)).reverse();
    const firstRun = runs.findIndex((r) => r.outcome === 'run');
    // Missed first (the outage), then runs: nothing of the outage ran late.
    expect(runs.slice(0, firstRun).every((r) => r.outcome === 'missed')).toBe(true);
    expect(Date.parse(runs[0]!.scheduledFor)).toBe(past.getTime());
    expect(runs.slice(firstRun).every((r) => r.outcome === 'run')).toBe(true);
    expect((await call(alice, 'DELETE', `/api/monitors/${m.id}`)).statusCode).toBe(204);
  }, 60_000);

  it('lists a monitor\'s runs as tests (filter monitorId), runs now on demand, and deletes with no run after', async () => {
    const m = await create(alice, { name: 'on demand', test: apiTest(), schedule: { everySeconds: 3600 } });
    const now = await call(alice, 'POST', `/api/monitors/${m.id}/run`);
    expect(now.statusCode, now.body).toBe(202);
    const { testId } = now.json() as { testId: string };
    const list = await call(alice, 'GET', `/api/test/queue/jobs?monitorId=${m.id}`);
    expect(list.json().items.map((t: { testId: string; monitorId: string }) => [t.testId, t.monitorId])).toEqual([[testId, m.id]]);
    await expect.poll(async () => (await runsOf(alice, m.id))[0]?.state, { timeout: 20_000 }).toBe('up');
    expect((await runsOf(alice, m.id))[0]).toMatchObject({ testId, outcome: 'run', reason: 'manual', status: 'completed' });

    const fast = await create(alice, { name: 'fast', test: apiTest(), schedule: { everySeconds: 1 } });
    await expect.poll(async () => (await runsOf(alice, fast.id)).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    expect((await call(alice, 'DELETE', `/api/monitors/${fast.id}`)).statusCode).toBe(204);
    const deletedAt = new Date();
    await sleep(2_500);
    const later = await api.db.kysely
      .selectFrom('test_queue')
      .select(['test_id', 'status'])
      .where('url', '=', site.url)
      .where('created_at', '>', deletedAt)
      .execute();
    expect(later).toEqual([]);
  }, 60_000);

  async function workspaceOf(user: User) {
    const res = await call(user, 'GET', '/api/workspaces');
    return (res.json() as { items: { id: string; personal: boolean }[] }).items.find((w) => w.personal)!;
  }
});
