import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricNames } from '@crucible/contracts';
import { createTestDatabase } from '@crucible/db/testing';
import { TEST_REDIS_URL as REDIS_URL, deleteRedisPrefix as deletePrefix } from '@crucible/backplane/testing';
import { freePort, startProcess, waitForReady } from '@crucible/api/testing';
import type { AppProcess } from '@crucible/api/testing';
import { ENTRY } from './entry.js';

// A browser test from submission to artifacts, through the real api, queue and worker of one
// all-in-one process, against a page this suite serves on loopback (allowed by TARGET_ALLOWLIST).
// Real Chromium (/usr/bin/chromium) and Lighthouse: one run takes 30–60 s on a loaded machine.

const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Crucible browser e2e</title>
<meta name="description" content="A page for the browser test"></head>
<body><h1>Hello from the browser test</h1><p>Some text so there is a contentful paint.</p></body></html>`;

interface Detail {
  status: string;
  result: {
    metrics: Record<string, { value: number | null }>;
    vitals: Record<string, number | null>;
    scores: Record<string, number | null>;
    artifacts: { name: string; contentType: string; bytes: number }[];
  } | null;
  error?: unknown;
}

describe('end to end: a browser test in the all-in-one (real api, queue, worker, Chromium)', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let site: Server;
  let siteUrl: string;
  const prefix = `t-${randomUUID()}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'crucible-aio-browser-'));
  let proc: AppProcess;
  let apiUrl: string;

  const register = async (email: string): Promise<string> => {
    const res = await fetch(`${apiUrl}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'a long enough password' }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { token: string }).token;
  };
  const auth = (token: string) => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    site = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    });
    await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
    siteUrl = `http://127.0.0.1:${(site.address() as { port: number }).port}/`;
    database = await createTestDatabase();
    const port = await freePort();
    apiUrl = `http://127.0.0.1:${port}`;
    proc = startProcess('all-in-one', ENTRY, {
      DATABASE_URL: database.url,
      REDIS_URL,
      CRUCIBLE_PREFIX: prefix,
      CRUCIBLE_DATA_DIR: dataDir,
      JWT_SECRET: '',
      PORT: String(port),
      HOST: '',
      // Two users in two workspaces, without invitations.
      REGISTRATION: 'open',
      TARGET_ALLOWLIST: '127.0.0.1',
    });
    await waitForReady(`${apiUrl}/health/ready`, proc, 60_000);
  }, 90_000);

  afterAll(async () => {
    const code = await proc?.stop('SIGTERM');
    site?.closeAllConnections();
    site?.close();
    await database?.drop();
    const redis = new Redis(REDIS_URL);
    await deletePrefix(redis, prefix);
    redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
    expect(code).toBe(0);
  }, 60_000);

  it('measures the page, and serves its screenshot, filmstrip and report to its owner only', async () => {
    const owner = await register('owner@example.com');
    const other = await register('other@example.com');
    const submitted = await fetch(`${apiUrl}/api/test/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth(owner) },
      body: JSON.stringify({ testType: 'browser', url: siteUrl, config: { runs: 1 } }),
    });
    expect(submitted.status).toBe(202);
    const { testId } = (await submitted.json()) as { testId: string };

    const detail = async () =>
      (await (
        await fetch(`${apiUrl}/api/test/queue/jobs/${testId}`, { headers: auth(owner) })
      ).json()) as Detail;
    await expect
      .poll(async () => (await detail()).status, { timeout: 150_000, interval: 1_000 })
      .toMatch(/^(completed|failed|cancelled)$/);
    const test = await detail();
    expect(test.status, JSON.stringify(test.error ?? proc.output().slice(-2000))).toBe('completed');
    const result = test.result!;

    // The catalogue's browser metrics (jsonb keeps its own key order), the Web Vitals and scores measured.
    expect(Object.keys(result.metrics).sort()).toEqual(metricNames('browser').sort());
    for (const name of ['lcp', 'cls', 'tbt', 'score.performance']) {
      expect(result.metrics[name]!.value, name).toEqual(expect.any(Number));
    }
    expect(result.metrics.lcp!.value).toBeGreaterThan(0);
    expect(result.metrics.cls!.value).toBeGreaterThanOrEqual(0);
    expect(result.metrics.tbt!.value).toBeGreaterThanOrEqual(0);
    expect(result.metrics['score.performance']!.value).toBeGreaterThanOrEqual(0);
    expect(result.metrics['score.performance']!.value).toBeLessThanOrEqual(100);
    expect(result.metrics.lcp!.value).toBe(result.vitals.lcp);

    // What the engine stored: the final screenshot, the filmstrip's frames, the full report.
    const names = result.artifacts.map((a) => a.name);
    expect(names).toContain('screenshot');
    expect(names).toContain('lighthouse.json');
    expect(names.some((n) => /^filmstrip-\d+-\d+ms$/.test(n))).toBe(true);
    for (const artifact of result.artifacts) {
      const url = `${apiUrl}/api/test/${testId}/artifacts/${artifact.name}`;
      const mine = await fetch(url, { headers: auth(owner) });
      expect(mine.status, artifact.name).toBe(200);
      expect(mine.headers.get('content-type'), artifact.name).toBe(artifact.contentType);
      expect(artifact.contentType).toMatch(
        artifact.name === 'lighthouse.json' ? /^application\/json/ : /^image\//,
      );
      const body = Buffer.from(await mine.arrayBuffer());
      expect(body.length, artifact.name).toBe(artifact.bytes);
      expect(body.length, artifact.name).toBeGreaterThan(0);
      const theirs = await fetch(url, { headers: auth(other) });
      expect(theirs.status, artifact.name).toBe(404);
      await theirs.body?.cancel();
    }
    // The report is Lighthouse's own, of this page.
    const report = (await (
      await fetch(`${apiUrl}/api/test/${testId}/artifacts/lighthouse.json`, { headers: auth(owner) })
    ).json()) as { lighthouseVersion: string; requestedUrl: string };
    expect(report.lighthouseVersion).toBe('12.2.3');
    expect(report.requestedUrl).toBe(siteUrl);
  }, 180_000);
});
