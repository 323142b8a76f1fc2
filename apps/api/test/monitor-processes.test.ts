import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBackplaneMode } from '@crucible/backplane/testing';
import { REDIS_URL, SECRET, register, startApi, startTarget } from './helpers.js';
import type { Api } from './helpers.js';
import { freePort, startProcess, waitForReady } from './processes.js';
import type { AppProcess } from './processes.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MONITORS = 20;
const DURATION_MS = 20_000;

/**
 * Exactly once per slot across processes (issue 23): two worker processes (each with its
 * scheduler) and two api processes; one worker is SIGKILLed and one api restarted in the middle.
 * Embedded mode is one process: its scheduler suite is monitors.test.ts in the `embedded` project.
 */
describe.skipIf(testBackplaneMode() === 'embedded')('monitor slots across processes (distributed)', () => {
  let api: Api;
  let site: Awaited<ReturnType<typeof startTarget>>;
  let token: string;
  const procs: AppProcess[] = [];

  beforeAll(async () => {
    api = await startApi({ monitorMinIntervalSeconds: 1 });
    token = (await register(api, `ops-${randomUUID()}@example.test`)).token;
    site = await startTarget();
  });

  afterAll(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL')));
    await api.close();
    await site.close();
  });

  const env = () => ({
    DATABASE_URL: api.databaseUrl,
    REDIS_URL,
    JWT_SECRET: SECRET,
    CRUCIBLE_PREFIX: api.prefix,
    TARGET_ALLOWLIST: '127.0.0.1',
    HOST: '127.0.0.1',
    MONITOR_MIN_INTERVAL_SECONDS: '1',
    MONITOR_CONCURRENCY: '10',
    WORKER_LOCK_DURATION_MS: '3000',
  });

  async function spawn(kind: 'api' | 'worker'): Promise<{ proc: AppProcess; url: string }> {
    const port = await freePort();
    const proc =
      kind === 'api'
        ? startProcess('api', 'apps/api/src/main.ts', { ...env(), PORT: String(port) })
        : startProcess('worker', 'apps/worker/src/main.ts', { ...env(), WORKER_HEALTH_PORT: String(port) });
    procs.push(proc);
    const url = `http://127.0.0.1:${port}`;
    await waitForReady(`${url}/health/ready`, proc, 120_000);
    return { proc, url };
  }

  const call = async (base: string, method: string, path: string, body?: object) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as Record<string, unknown> };
  };

  it('runs every slot of 20 monitors once, through a worker SIGKILL and an api restart', async () => {
    const t0 = Date.now();
    const log = (what: string) => process.env.TEST_LOG_LEVEL && console.log(`${Date.now() - t0} ms: ${what}`);
    const [apiA, apiB, worker1] = await Promise.all([spawn('api'), spawn('api'), spawn('worker'), spawn('worker')]);
    log('processes ready');
    const ids: string[] = [];
    for (let i = 0; i < MONITORS; i++) {
      const res = await call(i % 2 ? apiA!.url : apiB!.url, 'POST', '/api/monitors', {
        name: `m${i}`,
        test: { testType: 'api', url: site.url, config: { steps: [{ name: 'home', assert: { status: 200 } }] } },
        schedule: { everySeconds: 1 },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      ids.push(res.body.id as string);
    }
    log('monitors created');
    await sleep(DURATION_MS / 2);
    await worker1!.proc.stop('SIGKILL');
    await apiB!.proc.stop('SIGTERM');
    const apiB2 = spawn('api');
    await sleep(DURATION_MS / 2);
    for (const id of ids) {
      expect((await call(apiA!.url, 'PATCH', `/api/monitors/${id}`, { enabled: false })).status).toBe(200);
    }
    // The restarted api serves the same monitors, every one paused.
    const listed = await call((await apiB2).url, 'GET', '/api/monitors');
    expect((listed.body.items as { status: string }[]).map((m) => m.status)).toEqual(ids.map(() => 'paused'));

    const slots = () =>
      api.db.kysely
        .selectFrom('monitor_slots')
        .leftJoin('test_queue', 'test_queue.test_id', 'monitor_slots.test_id')
        .select(['monitor_slots.monitor_id', 'monitor_slots.scheduled_for', 'monitor_slots.outcome', 'test_queue.status'])
        .where('monitor_slots.monitor_id', 'in', ids)
        .execute();
    log('monitors paused');
    // Runs of the killed worker stall and run again elsewhere: wait until every run is terminal.
    await expect
      .poll(async () => (await slots()).filter((s) => s.outcome === 'run' && !['completed', 'failed'].includes(s.status!)).length, {
        timeout: 240_000,
        interval: 1_000,
      })
      .toBe(0);

    log('runs terminal');
    const all = await slots();
    const tests = await api.db.kysely
      .selectFrom('test_queue')
      .select(['monitor_id', 'scheduled_for'])
      .where('monitor_id', 'in', ids)
      .execute();
    // One test per run slot, never two for one slot.
    expect(tests.length).toBe(all.filter((s) => s.outcome === 'run').length);
    expect(new Set(tests.map((t) => `${t.monitor_id}@${t.scheduled_for!.toISOString()}`)).size).toBe(tests.length);
    let missed = 0;
    for (const id of ids) {
      const mine = all.filter((s) => s.monitor_id === id).map((s) => s.scheduled_for.getTime()).sort((a, b) => a - b);
      // Every second from the first slot to the last is accounted for: run, or recorded missed.
      expect(mine.length).toBe((mine.at(-1)! - mine[0]!) / 1000 + 1);
      expect(mine.length).toBeGreaterThanOrEqual(DURATION_MS / 1000 - 3);
      missed += all.filter((s) => s.monitor_id === id && s.outcome === 'missed').length;
    }
    // A scheduler was up throughout: a slot is missed only when a pass came more than a slot late.
    expect(missed).toBeLessThanOrEqual(all.length / 10);
    const completed = all.filter((s) => s.status === 'completed').length;
    expect(completed).toBeGreaterThan(0);
  }, 600_000);
});
