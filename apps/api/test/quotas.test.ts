import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAllowlist } from '@crucible/egress';
import { loadWorkerSettings } from '@crucible/worker';
import { buildApi } from '../src/app.js';
import { loadApiSettings } from '../src/env.js';
import { auth, register, startApi, startTarget } from './helpers.js';
import type { Api } from './helpers.js';

/**
 * Workspace quotas (DESIGN.md, "Quotas"), on the backplane of the run's mode: over a quota a
 * submission is 429 `QUOTA_EXCEEDED` naming it, with `Retry-After`, and nothing is stored; tests
 * past the running quota wait queued; an instance admin overrides a workspace's limits.
 */

const BODY = { testType: 'performance', url: 'http://127.0.0.1:8080/', config: { iterations: 1 } };

let api: Api;
let admin: Awaited<ReturnType<typeof register>>;
let alice: Awaited<ReturnType<typeof register>>;
let bob: Awaited<ReturnType<typeof register>>;
const closers: (() => Promise<unknown>)[] = [];

beforeEach(async () => {
  api = await startApi();
  admin = await register(api, 'admin@example.com');
  alice = await register(api, 'alice@example.com');
  bob = await register(api, 'bob@example.com');
});

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await api.close();
});

/** An api on the suite's deployment, configured by the variables given (as a process would be). */
async function apiWithVariables(env: Record<string, string>) {
  const app = await buildApi({
    db: api.db,
    backplane: api.backplane,
    tokens: api.tokens,
    cache: api.cache,
    targetAllowlist: parseAllowlist('127.0.0.1'),
    quotaLimits: loadApiSettings(env).quotaLimits,
  });
  closers.push(() => app.close());
  return app;
}

type App = Awaited<ReturnType<typeof apiWithVariables>>;

const submit = (app: App, token: string, payload: object = BODY, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/api/test/run', headers: { ...auth(token), ...headers }, payload });

async function personalWorkspace(token: string): Promise<string> {
  const res = await api.app.inject({ method: 'GET', url: '/api/workspaces', headers: auth(token) });
  return (res.json().items as { id: string; personal: boolean }[]).find((w) => w.personal)!.id;
}

const usage = (app: App, token: string, workspaceId: string) =>
  app.inject({ method: 'GET', url: `/api/workspaces/${workspaceId}/usage`, headers: auth(token) });

const rowsOf = async (userId: string) =>
  (await api.db.kysely.selectFrom('test_queue').select('test_id').where('user_id', '=', userId).execute())
    .length;

describe('queued tests per workspace', () => {
  it('refuses the submission past the queued quota with 429 and Retry-After, storing nothing; usage shows the queue', async () => {
    const app = await apiWithVariables({ WORKSPACE_MAX_QUEUED: '5' });
    // Concurrent submissions (one flush or several): exactly the quota's worth is accepted.
    const responses = await Promise.all(Array.from({ length: 12 }, () => submit(app, alice.token)));
    const codes = responses.map((r) => r.statusCode).sort();
    expect(codes).toEqual([...Array(5).fill(202), ...Array(7).fill(429)]);
    expect(await rowsOf(alice.id)).toBe(5);

    const refused = await submit(app, alice.token, BODY, { 'idempotency-key': 'over-quota' });
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.headers['retry-after']).toBe('30');
    expect(refused.json()).toMatchObject({ status: 429, code: 'QUOTA_EXCEEDED', quota: 'queued', limit: 5 });
    // Nothing stored: no row (so no job: jobs are released from the rows), and the key was not taken.
    expect(await rowsOf(alice.id)).toBe(5);
    expect(await api.db.kysely.selectFrom('idempotency_keys').selectAll().execute()).toEqual([]);

    const workspaceId = await personalWorkspace(alice.token);
    const use = await usage(app, alice.token, workspaceId);
    expect(use.statusCode).toBe(200);
    expect(use.json()).toMatchObject({
      workspaceId,
      queued: { used: 5, limit: 5 },
      running: { used: 0, limit: 10 },
      // Refused submissions are given back: only the accepted five count this minute.
      submitRate: { used: 5, limit: 120 },
    });

    // Another workspace's queue is its own.
    expect((await submit(app, bob.token)).statusCode).toBe(202);
    // Once one of Alice's tests leaves the queue, she may submit again, with the key refused before.
    const [first] = await api.db.kysely
      .selectFrom('test_queue')
      .select('test_id')
      .where('user_id', '=', alice.id)
      .execute();
    expect(
      (
        await app.inject({
          method: 'POST',
          url: `/api/test/${first!.test_id}/cancel`,
          headers: auth(alice.token),
        })
      ).statusCode,
    ).toBe(200);
    expect((await submit(app, alice.token, BODY, { 'idempotency-key': 'over-quota' })).statusCode).toBe(202);
  });

  it('holds two api processes to one queued quota: their concurrent flushes admit exactly the limit', async () => {
    const apps = [
      await apiWithVariables({ WORKSPACE_MAX_QUEUED: '7' }),
      await apiWithVariables({ WORKSPACE_MAX_QUEUED: '7' }),
    ];
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => submit(apps[i % 2]!, alice.token)),
    );
    expect(responses.filter((r) => r.statusCode === 202)).toHaveLength(7);
    expect(
      responses.filter((r) => r.statusCode === 429).map((r) => (r.json() as { quota: string }).quota),
    ).toEqual(Array(13).fill('queued'));
    expect(await rowsOf(alice.id)).toBe(7);
    const workspaceId = await personalWorkspace(alice.token);
    const counter = await api.db.kysely
      .selectFrom('workspace_queue_counts')
      .select('queued')
      .where('workspace_id', '=', workspaceId)
      .executeTakeFirst();
    expect(counter?.queued).toBe(7);
    // The refused ones were given back: the accepted seven count this minute.
    expect((await usage(apps[0]!, alice.token, workspaceId)).json().submitRate).toMatchObject({ used: 7 });
  });

  it('hides usage from a non-member (404) and shows it to any member', async () => {
    const workspaceId = await personalWorkspace(alice.token);
    expect((await usage(api.app, bob.token, workspaceId)).statusCode).toBe(404);
    expect((await usage(api.app, bob.token, workspaceId)).json().code).toBe('NOT_FOUND');
    const invited = await api.app.inject({
      method: 'POST',
      url: `/api/workspaces/${workspaceId}/invitations`,
      headers: auth(alice.token),
      payload: { email: 'bob@example.com', role: 'viewer' },
    });
    const accepted = await api.app.inject({
      method: 'POST',
      url: `/api/invitations/${invited.json().token}/accept`,
      headers: auth(bob.token),
    });
    expect(accepted.statusCode).toBe(200);
    const seen = await usage(api.app, bob.token, workspaceId);
    expect(seen.statusCode).toBe(200);
    // The defaults when no variable is set.
    expect(seen.json()).toMatchObject({
      queued: { used: 0, limit: 1000 },
      running: { used: 0, limit: 10 },
      stressBudget: { used: 0, limit: 720_000 },
      submitRate: { used: 0, limit: 120 },
      stressConnections: { limit: 200 },
    });
  });
});

describe('submissions per minute', () => {
  it('refuses the submission past the rate with 429 submitRate and the seconds left in the minute', async () => {
    const app = await apiWithVariables({ WORKSPACE_SUBMIT_RATE: '3' });
    for (let i = 0; i < 3; i++) expect((await submit(app, alice.token)).statusCode).toBe(202);
    const refused = await submit(app, alice.token);
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'submitRate', limit: 3 });
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await rowsOf(alice.id)).toBe(3);
    // A submission refused for its body is not counted; the rate is per workspace.
    expect((await submit(app, bob.token, { ...BODY, url: 'not a url' })).statusCode).toBe(400);
    expect((await submit(app, bob.token)).statusCode).toBe(202);
    const use = await usage(app, alice.token, await personalWorkspace(alice.token));
    expect(use.json().submitRate).toMatchObject({ used: 3, limit: 3 });
    expect(Date.parse(use.json().submitRate.resetsAt) - Date.now()).toBeLessThanOrEqual(60_000);
  });

  it('counts concurrent submissions of two api processes together: exactly the rate is accepted', async () => {
    const apps = [
      await apiWithVariables({ WORKSPACE_SUBMIT_RATE: '4' }),
      await apiWithVariables({ WORKSPACE_SUBMIT_RATE: '4' }),
    ];
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) => submit(apps[i % 2]!, alice.token)),
    );
    expect(responses.map((r) => r.statusCode).sort()).toEqual([...Array(4).fill(202), ...Array(6).fill(429)]);
    expect(responses.filter((r) => r.statusCode === 429).every((r) => r.json().quota === 'submitRate')).toBe(
      true,
    );
    expect(await rowsOf(alice.id)).toBe(4);
    const use = await usage(apps[1]!, alice.token, await personalWorkspace(alice.token));
    expect(use.json().submitRate).toMatchObject({ used: 4, limit: 4 });
  });

  it('does not count a replayed Idempotency-Key, nor a submission another quota refused', async () => {
    const app = await apiWithVariables({ WORKSPACE_SUBMIT_RATE: '3', WORKSPACE_MAX_QUEUED: '2' });
    const keyed = { 'idempotency-key': 'once' };
    const first = await submit(app, alice.token, BODY, keyed);
    expect(first.statusCode).toBe(202);
    // The same key again: replays of the first test. (One after the other: a replay is known as
    // one only once its flush has tried the key, so it is taken from the minute's count until then.)
    const replays = [];
    for (let i = 0; i < 3; i++) replays.push(await submit(app, alice.token, BODY, keyed));
    expect(replays.map((r) => [r.statusCode, r.headers['idempotent-replayed'], r.json().testId])).toEqual(
      Array(3).fill([202, 'true', first.json().testId]),
    );
    expect((await submit(app, alice.token)).statusCode).toBe(202);
    expect((await submit(app, alice.token)).json()).toMatchObject({ quota: 'queued' });
    const use = await usage(app, alice.token, await personalWorkspace(alice.token));
    expect(use.json().submitRate).toMatchObject({ used: 2, limit: 3 });
    // So one more may be submitted this minute once the queue has room.
    expect((await submit(app, bob.token)).statusCode).toBe(202);
  });
});

describe('stress budget per day', () => {
  it('refuses a stress test past the day’s connection-seconds with 429 stressBudget until midnight UTC', async () => {
    const app = await apiWithVariables({ WORKSPACE_STRESS_BUDGET: '1000' });
    const stress = {
      testType: 'stress',
      url: 'http://127.0.0.1:8080/',
      config: { connections: 10, durationSec: 40, rampUpSec: 10 },
    };
    expect((await submit(app, alice.token, stress)).statusCode).toBe(202);
    expect((await submit(app, alice.token, stress)).statusCode).toBe(202);
    const refused = await submit(app, alice.token, stress);
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'stressBudget', limit: 1000 });
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 0, 0);
    const untilMidnight = (midnight.getTime() - Date.now()) / 1000;
    expect(Math.abs(Number(refused.headers['retry-after']) - untilMidnight)).toBeLessThan(5);
    expect(await rowsOf(alice.id)).toBe(2);
    // Other types cost nothing of it.
    expect((await submit(app, alice.token)).statusCode).toBe(202);
    const use = await usage(app, alice.token, await personalWorkspace(alice.token));
    expect(use.json().stressBudget).toEqual({ used: 1000, limit: 1000, resetsAt: midnight.toISOString() });
  });
});

describe('an instance admin’s overrides', () => {
  it('sets, shows and clears a workspace’s quotas; only an admin may', async () => {
    const workspaceId = await personalWorkspace(alice.token);
    const put = (token: string, payload: object, id = workspaceId) =>
      api.app.inject({
        method: 'PUT',
        url: `/api/admin/workspaces/${id}/quotas`,
        headers: auth(token),
        payload,
      });
    expect((await put(alice.token, { queued: 2 })).statusCode).toBe(403);
    expect((await put(admin.token, { queued: 2 }, '00000000-0000-4000-8000-000000000000')).statusCode).toBe(
      404,
    );

    const set = await put(admin.token, { queued: 2, submitRate: 0 });
    expect(set.statusCode).toBe(200);
    expect(set.json()).toEqual({
      workspaceId,
      overrides: { queued: 2, running: null, stressBudget: null, submitRate: 0, stressConnections: null },
      limits: { queued: 2, running: 10, stressBudget: 720_000, submitRate: null, stressConnections: 200 },
    });
    expect((await submit(api.app, alice.token)).statusCode).toBe(202);
    expect((await submit(api.app, alice.token)).statusCode).toBe(202);
    const refused = await submit(api.app, alice.token);
    expect(refused.json()).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'queued', limit: 2 });
    expect((await usage(api.app, alice.token, workspaceId)).json()).toMatchObject({
      queued: { used: 2, limit: 2 },
      submitRate: { limit: null },
    });

    // Null: back to the default; a quota left out keeps its override.
    const cleared = await put(admin.token, { queued: null });
    expect(cleared.json().overrides).toMatchObject({ queued: null, submitRate: 0 });
    expect((await submit(api.app, alice.token)).statusCode).toBe(202);
    const got = await api.app.inject({
      method: 'GET',
      url: `/api/admin/workspaces/${workspaceId}/quotas`,
      headers: auth(admin.token),
    });
    expect(got.json().limits).toMatchObject({ queued: 1000, submitRate: null });
    // The workspace's owner reads in its audit log that its quotas were changed, and by whom.
    const audit = await api.app.inject({
      method: 'GET',
      url: `/api/workspaces/${workspaceId}/audit`,
      headers: auth(alice.token),
    });
    expect(
      (audit.json().items as { action: string; actor: { email: string }; details: unknown }[])
        .filter((e) => e.action === 'workspace.quotas_changed')
        .map((e) => [e.actor.email, e.details]),
    ).toEqual([
      ['admin@example.com', { changed: { queued: null } }],
      ['admin@example.com', { changed: { queued: 2, submitRate: 0 } }],
    ]);
  });
});

describe('running tests per workspace', () => {
  it('keeps the 11th test queued, saying why, while ten run; it starts when one ends', async () => {
    const held: (() => void)[] = [];
    const site = await startTarget((_req, res) => {
      held.push(() => res.end('ok'));
    });
    closers.push(async () => {
      for (const release of held.splice(0)) release();
      await site.close();
    });
    // The worker's own settings with no variable set: ten at once.
    const settings = loadWorkerSettings({});
    expect(settings.workspaceMaxRunning).toBe(10);
    await api.startWorker({
      concurrency: 12,
      maxRunningPerWorkspace: settings.workspaceMaxRunning,
      runningQuotaRetryMs: 200,
    });
    const body = { testType: 'performance', url: site.url, config: { iterations: 1, timeoutMs: 30_000 } };
    const ids: string[] = [];
    for (let i = 0; i < 11; i++) {
      const res = await submit(api.app, alice.token, body);
      expect(res.statusCode).toBe(202);
      ids.push(res.json().testId);
    }
    const detail = async (id: string) =>
      (await api.app.inject({ method: 'GET', url: `/api/tests/${id}`, headers: auth(alice.token) })).json();
    const statuses = async () => (await Promise.all(ids.map(detail))).map((d) => d.status as string);
    await expect.poll(() => site.hits, { timeout: 20_000 }).toBe(10);
    await expect
      .poll(async () => (await statuses()).filter((s) => s === 'running').length, { timeout: 10_000 })
      .toBe(10);
    const waiting = ids[(await statuses()).indexOf('queued')]!;
    await expect
      .poll(async () => (await detail(waiting)).waitReason, { timeout: 10_000 })
      .toBe('quota: the workspace runs 10 tests at once, its limit; this one starts when one ends');
    expect((await detail(waiting)).attempts).toEqual([]);
    const use = await usage(api.app, alice.token, await personalWorkspace(alice.token));
    expect(use.json()).toMatchObject({ queued: { used: 1 }, running: { used: 10, limit: 10 } });
    // Still only ten at the target after a few rounds of asking.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(site.hits).toBe(10);

    held.shift()!();
    await expect.poll(() => site.hits, { timeout: 20_000 }).toBe(11);
    for (const release of held.splice(0)) release();
    await expect
      .poll(async () => (await statuses()).every((s) => s === 'completed'), { timeout: 30_000 })
      .toBe(true);
  }, 90_000);
});
