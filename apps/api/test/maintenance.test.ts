import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, register, startApi, startTarget } from './helpers.js';
import type { Api } from './helpers.js';

type User = Awaited<ReturnType<typeof register>>;
type Run = {
  scheduledFor: string;
  outcome: string;
  reason: string | null;
  testId: string | null;
  state: string | null;
};

/** Maintenance windows (issue 23): slots inside are skipped, the monitor shows `maintenance`, nothing alerts. */
describe('maintenance windows', () => {
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

  async function monitor(user: User, name: string, schedule: object, enabled = true) {
    const res = await call(user, 'POST', '/api/monitors', { name, test: apiTest(), schedule, enabled });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { id: string };
  }

  async function runsOf(id: string): Promise<Run[]> {
    const res = await call(alice, 'GET', `/api/monitors/${id}/runs?limit=200`);
    expect(res.statusCode, res.body).toBe(200);
    return res.json().items;
  }

  const statusOf = async (id: string) =>
    (await call(alice, 'GET', `/api/monitors/${id}`)).json().status as string;

  async function teamEvents(user: User, event: string) {
    const ws = (await call(user, 'GET', '/api/workspaces'))
      .json()
      .items.find((w: { personal: boolean }) => w.personal);
    const { messages } = await api.eventLog.recover(`team-${ws.id}`, 0);
    return messages.filter((m) => m.event === event).map((m) => m.data as Record<string, unknown>);
  }

  /** The hour and minute it is now in a time zone. */
  function localNow(timeZone: string) {
    const parts = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      hour: 'numeric',
      minute: 'numeric',
      hourCycle: 'h23',
    }).formatToParts(new Date());
    const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
    return { hour: get('hour'), minute: get('minute') };
  }

  it("creates, lists, edits and deletes windows; refuses bad times and another workspace's monitors", async () => {
    const m = await monitor(alice, 'hourly', { everySeconds: 3600 });
    const theirs = await monitor(bob, 'theirs', { everySeconds: 3600 });
    const once = {
      name: 'deploy',
      monitorIds: [m.id],
      startsAt: '2030-01-01T10:00:00Z',
      endsAt: '2030-01-01T11:00:00Z',
    };
    const created = await call(alice, 'POST', '/api/maintenance-windows', once);
    expect(created.statusCode, created.body).toBe(201);
    const w = created.json();
    expect(w).toMatchObject({
      name: 'deploy',
      monitorIds: [m.id],
      startsAt: '2030-01-01T10:00:00.000Z',
      endsAt: '2030-01-01T11:00:00.000Z',
      cron: null,
      durationMinutes: null,
      timezone: null,
      active: false,
    });

    const stranger = await call(alice, 'POST', '/api/maintenance-windows', {
      ...once,
      monitorIds: [m.id, theirs.id],
    });
    expect(stranger.statusCode).toBe(404);
    expect(stranger.json()).toMatchObject({ code: 'NOT_FOUND', detail: `Monitor ${theirs.id} not found` });
    const both = await call(alice, 'POST', '/api/maintenance-windows', {
      ...once,
      cron: '0 1 * * *',
      durationMinutes: 5,
    });
    expect(both.json()).toMatchObject({ status: 400, code: 'INVALID_WINDOW' });
    const backwards = await call(alice, 'POST', '/api/maintenance-windows', {
      ...once,
      endsAt: once.startsAt,
    });
    expect(backwards.json()).toMatchObject({
      code: 'INVALID_WINDOW',
      detail: 'endsAt must be after startsAt',
    });
    const zone = await call(alice, 'POST', '/api/maintenance-windows', {
      name: 'x',
      monitorIds: 'all',
      cron: '0 1 * * *',
      durationMinutes: 5,
      timezone: 'Mars/Olympus',
    });
    expect(zone.json()).toMatchObject({
      code: 'INVALID_WINDOW',
      detail: 'timezone: Mars/Olympus is not an IANA time zone',
    });

    // Bob is not a member of Alice's workspace: her window does not exist for him.
    expect((await call(bob, 'GET', `/api/maintenance-windows/${w.id}`)).statusCode).toBe(404);
    expect((await call(bob, 'PATCH', `/api/maintenance-windows/${w.id}`, { name: 'mine' })).statusCode).toBe(
      404,
    );
    expect((await call(bob, 'DELETE', `/api/maintenance-windows/${w.id}`)).statusCode).toBe(404);
    expect((await call(bob, 'GET', '/api/maintenance-windows')).json().items).toEqual([]);

    const recurring = await call(alice, 'PATCH', `/api/maintenance-windows/${w.id}`, {
      monitorIds: 'all',
      cron: '30  2 * * 0',
      durationMinutes: 90,
      timezone: 'Europe/Paris',
    });
    expect(recurring.statusCode, recurring.body).toBe(200);
    expect(recurring.json()).toMatchObject({
      name: 'deploy',
      monitorIds: 'all',
      startsAt: null,
      endsAt: null,
      cron: '30 2 * * 0',
      durationMinutes: 90,
      timezone: 'Europe/Paris',
    });
    expect(
      (await call(alice, 'GET', '/api/maintenance-windows')).json().items.map((i: { id: string }) => i.id),
    ).toEqual([w.id]);
    expect((await call(alice, 'DELETE', `/api/maintenance-windows/${w.id}`)).statusCode).toBe(204);
    expect((await call(alice, 'GET', `/api/maintenance-windows/${w.id}`)).statusCode).toBe(404);
    // A deleted monitor leaves the windows that named it.
    const other = await monitor(alice, 'other', { everySeconds: 3600 });
    const w2 = (
      await call(alice, 'POST', '/api/maintenance-windows', { ...once, monitorIds: [m.id, other.id] })
    ).json();
    expect((await call(alice, 'DELETE', `/api/monitors/${m.id}`)).statusCode).toBe(204);
    expect((await call(alice, 'GET', `/api/maintenance-windows/${w2.id}`)).json().monitorIds).toEqual([
      other.id,
    ]);
    expect((await call(alice, 'DELETE', `/api/monitors/${other.id}`)).statusCode).toBe(204);
  });

  it('skips the slots inside a window, shows maintenance and changes no state during it', async () => {
    await api.startWorker();
    const m = await monitor(alice, 'every second', { everySeconds: 1 });
    await expect.poll(() => statusOf(m.id), { timeout: 20_000 }).toBe('up');

    // Opens a little ahead, so that no slot inside it can have been claimed before it existed, and
    // lasts until the test ends it: nothing below depends on how fast a busy machine runs.
    const startsAt = new Date(Date.now() + 1_500);
    const w = await call(alice, 'POST', '/api/maintenance-windows', {
      name: 'deploy',
      monitorIds: [m.id],
      startsAt: startsAt.toISOString(),
      endsAt: new Date(startsAt.getTime() + 600_000).toISOString(),
    });
    expect(w.statusCode, w.body).toBe(201);
    await expect.poll(() => statusOf(m.id), { timeout: 10_000 }).toBe('maintenance');
    // The site goes down during the window: a run asked for by hand fails, and the monitor stays as it was.
    failing = true;
    const manual = await call(alice, 'POST', `/api/monitors/${m.id}/run`);
    expect(manual.statusCode, manual.body).toBe(202);
    const manualId = manual.json().testId as string;
    await expect
      .poll(async () => (await runsOf(m.id)).find((r) => r.testId === manualId)?.state, { timeout: 20_000 })
      .toBe('down');
    await expect
      .poll(async () => (await runsOf(m.id)).filter((r) => r.outcome === 'skipped').length, {
        timeout: 20_000,
      })
      .toBeGreaterThanOrEqual(3);
    expect(await statusOf(m.id)).toBe('maintenance');
    const changesOf = async () =>
      (await teamEvents(alice, 'monitor:status')).filter((e) => e.monitorId === m.id);
    expect((await changesOf()).map((e) => `${e.from}→${e.to}`)).toEqual(['null→up']);

    // Ended shortly (ahead of now, so that no slot after its end is claimed before the change is
    // in): the next run's failure changes the state, and only then.
    const endsAt = new Date(Date.now() + 3_000);
    const ended = await call(alice, 'PATCH', `/api/maintenance-windows/${w.json().id}`, {
      startsAt: startsAt.toISOString(),
      endsAt: endsAt.toISOString(),
    });
    expect(ended.json()).toMatchObject({ endsAt: endsAt.toISOString() });
    await expect.poll(() => statusOf(m.id), { timeout: 30_000 }).toBe('down');
    failing = false;
    expect((await call(alice, 'PATCH', `/api/monitors/${m.id}`, { enabled: false })).statusCode).toBe(200);

    const runs = await runsOf(m.id);
    const inside = runs.filter((r) => {
      const t = Date.parse(r.scheduledFor);
      return t >= startsAt.getTime() && t < endsAt.getTime() && r.testId !== manualId;
    });
    // One slot a second while it was open, each skipped for maintenance, none run.
    expect(inside.length).toBeGreaterThanOrEqual(3);
    expect(inside.map((r) => [r.outcome, r.reason, r.testId])).toEqual(
      inside.map(() => ['skipped', 'maintenance', null]),
    );
    expect(runs.filter((r) => r.outcome === 'skipped').length).toBe(inside.length);
    const skippedEvents = (await teamEvents(alice, 'monitor:run')).filter(
      (e) => e.monitorId === m.id && e.outcome === 'skipped',
    );
    expect(skippedEvents.map((e) => e.reason)).toEqual(inside.map(() => 'maintenance'));

    const changes = await changesOf();
    expect(changes.map((e) => `${e.from}→${e.to}`)).toEqual(['null→up', 'up→down']);
    // The change to down came from a run after the window, not from the failing run inside it.
    expect(changes[1]!.testId).not.toBe(manualId);
    expect(Date.parse(changes[1]!.changedAt as string)).toBeGreaterThanOrEqual(endsAt.getTime());
    expect((await call(alice, 'DELETE', `/api/monitors/${m.id}`)).statusCode).toBe(204);
  }, 90_000);

  it('opens a recurring window by its cron in its own time zone', async () => {
    await api.startWorker();
    // Paused until the windows exist: no slot of theirs is claimed before.
    const m = await monitor(alice, 'kolkata', { everySeconds: 1 }, false);
    const other = await monitor(alice, 'elsewhere', { everySeconds: 1 }, false);
    // This minute in Kolkata (UTC+05:30) for 10 minutes: open now. The same cron read in UTC is not.
    const { hour, minute } = localNow('Asia/Kolkata');
    const cron = `${minute} ${hour} * * *`;
    const kolkata = await call(alice, 'POST', '/api/maintenance-windows', {
      name: 'nightly',
      monitorIds: [m.id],
      cron,
      durationMinutes: 10,
      timezone: 'Asia/Kolkata',
    });
    expect(kolkata.statusCode, kolkata.body).toBe(201);
    expect(kolkata.json()).toMatchObject({ active: true, cron, timezone: 'Asia/Kolkata' });
    const utc = await call(alice, 'POST', '/api/maintenance-windows', {
      name: 'utc',
      monitorIds: [other.id],
      cron,
      durationMinutes: 10,
      timezone: 'UTC',
    });
    expect(utc.json()).toMatchObject({ active: false, timezone: 'UTC' });
    for (const id of [m.id, other.id])
      expect((await call(alice, 'PATCH', `/api/monitors/${id}`, { enabled: true })).statusCode).toBe(200);

    expect(await statusOf(m.id)).toBe('maintenance');
    await expect
      .poll(async () => (await runsOf(m.id)).filter((r) => r.outcome === 'skipped').length, {
        timeout: 20_000,
      })
      .toBeGreaterThanOrEqual(3);
    await expect.poll(() => statusOf(other.id), { timeout: 20_000 }).toBe('up');
    for (const id of [m.id, other.id])
      expect((await call(alice, 'PATCH', `/api/monitors/${id}`, { enabled: false })).statusCode).toBe(200);
    const runs = await runsOf(m.id);
    expect(runs.every((r) => r.outcome === 'skipped' && r.reason === 'maintenance')).toBe(true);
    expect((await runsOf(other.id)).every((r) => r.outcome === 'run')).toBe(true);
    // Deleting the window ends it.
    expect((await call(alice, 'DELETE', `/api/maintenance-windows/${kolkata.json().id}`)).statusCode).toBe(
      204,
    );
    expect((await call(alice, 'PATCH', `/api/monitors/${m.id}`, { enabled: true })).statusCode).toBe(200);
    await expect.poll(() => statusOf(m.id), { timeout: 20_000 }).toBe('up');
  }, 90_000);
});
