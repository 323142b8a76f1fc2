import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StressResult } from '@crucible/contracts';
import { testBackplaneMode } from '@crucible/backplane/testing';
import { auth, register, spawnWorkerOf, startApi, startTarget } from './helpers.js';
import type { Api } from './helpers.js';
import type { AppProcess } from './processes.js';

/** Embedded mode has one process: its sharded test is the worker suite's (stress-shards.test.ts). */
const distributedOnly = describe.skipIf(testBackplaneMode() === 'embedded');

type Live = { second: number; requests: number; p95: number; connections: number };

distributedOnly('sharded stress tests on two worker processes (distributed mode only)', () => {
  let api: Api;
  let alice: { token: string };
  let target: Awaited<ReturnType<typeof startTarget>>;
  const procs: AppProcess[] = [];

  beforeEach(async () => {
    api = await startApi();
    alice = await register(api, `${randomUUID()}@example.com`);
    target = await startTarget((_req, res) => {
      res.end('ok');
    });
  });

  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL')));
    await api.close();
    await target.close();
  });

  async function spawnWorker(): Promise<AppProcess> {
    // Its log says which process runs the test itself and which its shards.
    const proc = await spawnWorkerOf(api, { LOG_LEVEL: 'info' });
    procs.push(proc);
    return proc;
  }

  async function submit(config: Record<string, unknown>): Promise<string> {
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/test/run',
      headers: auth(alice.token),
      payload: { testType: 'stress', url: target.url, config },
    });
    expect(res.statusCode).toBe(202);
    return res.json().testId as string;
  }

  async function finished(testId: string) {
    let body: { status: string; result: StressResult } | undefined;
    await expect
      .poll(
        async () => {
          const res = await api.app.inject({
            method: 'GET',
            url: `/api/test/queue/jobs/${testId}`,
            headers: auth(alice.token),
          });
          body = res.json();
          return body!.status;
        },
        { timeout: 90_000, interval: 250 },
      )
      .toBe('completed');
    return body!.result;
  }

  async function live(testId: string): Promise<Live[]> {
    const { messages } = await api.eventLog.recover(`stress-test-${testId}`, 0);
    return messages.map((m) => m.data as Live);
  }

  it('runs shards: 4 on both workers, counts exactly what the target answered, and streams one merged point a second', async () => {
    await Promise.all([spawnWorker(), spawnWorker()]);
    const testId = await submit({ connections: 8, durationSec: 4, shards: 4 });
    const result = await finished(testId);

    expect(result.totals.requests).toBeGreaterThan(0);
    expect(result.totals.requests).toBe(target.hits);
    expect(result.shards!.map((s) => [s.shard, s.status, s.connections])).toEqual([
      [1, 'completed', 2],
      [2, 'completed', 2],
      [3, 'completed', 2],
      [4, 'completed', 2],
    ]);
    // Two shards on each worker process.
    const byWorker = new Map<string, number>();
    for (const s of result.shards!) byWorker.set(s.worker, (byWorker.get(s.worker) ?? 0) + 1);
    expect([...byWorker.values()]).toEqual([2, 2]);
    expect(result.shards!.reduce((n, s) => n + s.requests, 0)).toBe(result.totals.requests);
    // One live point per second, each the merged second (all 8 connections, every shard's requests).
    const points = await live(testId);
    expect(points.map((p) => p.second)).toEqual([1, 2, 3, 4]);
    expect(points.map((p) => [p.requests, p.p95])).toEqual(result.series.map((p) => [p.requests, p.p95]));
    expect(points.map((p) => p.connections)).toEqual([8, 8, 8, 8]);
  }, 180_000);

  it('replaces the shards of a SIGKILLed worker on the other one, and the test completes whole', async () => {
    const workers = await Promise.all([spawnWorker(), spawnWorker()]);
    const testId = await submit({ connections: 4, durationSec: 12, shards: 2 });
    // Killed once both shards have reported a second, with most of the 12 s still to go.
    await expect
      .poll(async () => (await live(testId)).length, { timeout: 60_000, interval: 100 })
      .toBeGreaterThan(1);
    // The worker that runs the test itself stays; the other one, with a shard, is killed.
    const coordinator = workers.find((w) => w.output().includes('"msg":"test started"'))!;
    const other = workers.find((w) => w !== coordinator)!;
    expect(other.output()).toContain('"msg":"shard started"');
    await other.stop('SIGKILL');
    const result = await finished(testId);

    const lost = result.shards!.filter((s) => s.status === 'lost');
    expect(lost.map((s) => [s.shard, s.try])).toHaveLength(1);
    const replacement = result.shards!.find((s) => s.shard === lost[0]!.shard && s.try === 2)!;
    expect(replacement.status).toBe('completed');
    expect(replacement.worker).not.toBe(lost[0]!.worker);
    expect(result.lostShards).toEqual([]);
    expect(result.series.map((p) => p.second)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    // What the lost shard reported stays counted: never more than the target answered.
    expect(result.totals.requests).toBeLessThanOrEqual(target.hits);
    expect(lost[0]!.requests).toBeGreaterThan(0);
  }, 180_000);

  it('reports a partial result naming the shard whose worker died when no time is left to replace it', async () => {
    const workers = await Promise.all([spawnWorker(), spawnWorker()]);
    const testId = await submit({ connections: 4, durationSec: 4, shards: 2 });
    // Killed at any time in its 4 s, a shard is found silent 3 s later: less than 2 s is left.
    await expect.poll(() => target.hits, { timeout: 60_000, interval: 50 }).toBeGreaterThan(20);
    const coordinator = workers.find((w) => w.output().includes('"msg":"test started"'))!;
    const other = workers.find((w) => w !== coordinator)!;
    await expect.poll(() => other.output(), { timeout: 10_000 }).toContain('"msg":"shard started"');
    await other.stop('SIGKILL');
    const result = await finished(testId);

    const lost = result.shards!.filter((s) => s.status === 'lost');
    expect(lost).toHaveLength(1);
    expect(result.shards!.filter((s) => s.try > 1)).toEqual([]);
    expect(result.lostShards).toEqual([lost[0]!.shard]);
  }, 180_000);
});
