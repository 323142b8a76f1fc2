import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testBackplaneMode } from '@crucible/backplane/testing';
import { auth, register, spawnWorkerOf, startApi, startTarget } from './helpers.js';
import type { Api } from './helpers.js';
import type { AppProcess } from './processes.js';

/** Embedded mode has no worker process of its own: the embedded e2e kills its one process instead. */
const distributedOnly = describe.skipIf(testBackplaneMode() === 'embedded');

/** A worker killed or stopped mid-test: the test still ends in exactly one terminal state. */
distributedOnly('worker processes (distributed mode only: they share Redis and PostgreSQL)', () => {
  let api: Api;
  let alice: { token: string };
  let site: Awaited<ReturnType<typeof startTarget>>;
  const procs: AppProcess[] = [];

  beforeEach(async () => {
    api = await startApi();
    alice = await register(api, 'alice@example.com');
    // Slow enough that a 20-request test is still running when the worker is stopped.
    site = await startTarget((_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><title>slow</title>');
      }, 300);
    });
  });

  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL')));
    await api.close();
    await site.close();
  });

  async function spawnWorker(env: Record<string, string>): Promise<AppProcess> {
    const proc = await spawnWorkerOf(api, env, 60_000);
    procs.push(proc);
    return proc;
  }

  async function detail(testId: string) {
    const res = await api.app.inject({
      method: 'GET',
      url: `/api/test/queue/jobs/${testId}`,
      headers: auth(alice.token),
    });
    return res.json();
  }

  async function submitSlowTest(): Promise<string> {
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/test/run',
      headers: auth(alice.token),
      payload: { testType: 'performance', url: site.url, config: { iterations: 20 } },
    });
    expect(res.statusCode).toBe(202);
    const testId = res.json().testId as string;
    await expect.poll(() => site.hits, { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    expect((await detail(testId)).status).toBe('running');
    return testId;
  }

  it('re-runs a test whose worker was SIGKILLed and completes it exactly once', async () => {
    const proc = await spawnWorker({ WORKER_LOCK_DURATION_MS: '2000' });
    const testId = await submitSlowTest();
    await proc.stop('SIGKILL');

    await api.startWorker({ stalledIntervalMs: 1_000 });
    await expect.poll(async () => (await detail(testId)).status, { timeout: 60_000 }).toBe('completed');

    const d = await detail(testId);
    expect(d.retryCount).toBe(1);
    expect(d.attempts.map((a: { status: string }) => a.status)).toEqual(['lost', 'completed']);
    expect((d.result as { requests: unknown }).requests).toEqual({ total: 20, succeeded: 20, failed: 0 });
    const progress = (await api.eventLog.recover(`test-progress-${testId}`, 0)).messages.map((m) => m.event);
    expect(progress.filter((e) => e === 'test:started')).toHaveLength(2);
    expect(progress.filter((e) => e === 'test:completed' || e === 'test:failed')).toEqual(['test:completed']);
  }, 120_000);

  it('on SIGTERM hands a test that outlives the drain bound back to the queue and exits 0', async () => {
    const proc = await spawnWorker({ SHUTDOWN_TIMEOUT_MS: '5500' });
    const testId = await submitSlowTest();
    expect(await proc.stop('SIGTERM')).toBe(0);

    const handedBack = await detail(testId);
    expect(handedBack.status).toBe('queued');
    expect(handedBack.attempts.map((a: { status: string }) => a.status)).toEqual(['handed_back']);
    // Watchers (and every cached list, which this event invalidates) hear that it is queued again.
    const jobEvents = (await api.eventLog.recover(`job-status-${testId}`, 0)).messages.filter(
      (m) => m.event !== 'queue:job:progress',
    );
    expect(jobEvents.map((m) => m.event)).toEqual([
      'queue:job:added',
      'queue:job:started',
      'queue:job:added',
    ]);
    expect(jobEvents.at(-1)!.data).toMatchObject({ testId, handedBack: true });
    const hitsAtStop = site.hits;

    await api.startWorker();
    await expect.poll(async () => (await detail(testId)).status, { timeout: 60_000 }).toBe('completed');
    const d = await detail(testId);
    expect(d.retryCount).toBe(0);
    expect(d.attempts.map((a: { status: string }) => a.status)).toEqual(['handed_back', 'completed']);
    expect(site.hits).toBe(hitsAtStop + 20);
  }, 120_000);
});
