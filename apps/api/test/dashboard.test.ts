import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi } from './helpers.js';

const INDEX = '<!doctype html><title>Crucible</title><div id="app"></div>';

describe('the dashboard at /', () => {
  let dir: string;
  let api: Awaited<ReturnType<typeof startApi>>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'crucible-dashboard-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), INDEX);
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    api = await startApi({ dashboardDir: dir });
  });

  afterAll(async () => {
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves index.html at / and for the app’s own paths, always revalidated', async () => {
    for (const url of ['/', '/tests/0b0f4b8e-3c1a-4a57-9a53-4a1f2f0f7a11', '/keys?x=1']) {
      const res = await api.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.body).toBe(INDEX);
    }
  });

  it('serves hashed assets as immutable', async () => {
    const res = await api.app.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(res.body).toBe('console.log(1)');
  });

  it('leaves the API’s paths to the API: an unknown one is still a problem+json 404', async () => {
    for (const url of ['/api/nope', '/health/nope', '/metrics/x', '/docs/x', '/ws/x']) {
      const res = await api.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ code: 'ROUTE_NOT_FOUND' });
    }
    const live = await api.app.inject({ method: 'GET', url: '/health/live' });
    expect(live.statusCode).toBe(200);
  });
});

describe('the API without a built dashboard', () => {
  it('says at / how to build it, and keeps working', async () => {
    const api = await startApi({ dashboardDir: join(tmpdir(), 'crucible-no-such-dashboard') });
    try {
      const res = await api.app.inject({ method: 'GET', url: '/' });
      expect(res.statusCode).toBe(503);
      expect(res.body).toContain('pnpm --filter @crucible/web build');
      expect((await api.app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    } finally {
      await api.close();
    }
  });
});
