import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { TestCatalog, aggregateMetrics, judgeResult, validateTestConfig } from '@crucible/contracts';
import type { BrowserConfig, BrowserResult } from '@crucible/contracts';
import { Egress, parseAllowlist } from '@crucible/egress';
import { runBrowser } from '../../src/engines/browser.engine.js';
import { PROFILE_PREFIX } from '../../src/engines/browser/chromium.js';
import { EngineError } from '../../src/errors.js';
import { HERO_DELAY_MS, startCanary, startSite } from './fixture.js';
import type { Canary, Site } from './fixture.js';

// Real Chromium, real Lighthouse, local pages only. The guard opens 127.0.0.1 (the pages) and
// nothing else: the canary on 127.0.0.2 is a loopback address it refuses.

const egress = new Egress({ allowlist: parseAllowlist('127.0.0.1/32') });
let site: Site;
let canary: Canary;

beforeAll(async () => {
  canary = await startCanary();
  site = await startSite(canary.url);
});
afterAll(async () => {
  await site?.close();
  await canary?.close();
});

const config = (c: Partial<BrowserConfig>) => validateTestConfig('browser', c) as BrowserConfig;
const noProgress = () => {};

/** Chromium processes started with one of this engine's profiles, and Lighthouse children, from the process list. */
function chromiumProcesses(): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter(
      (line) =>
        line.includes(`--user-data-dir=${tmpdir()}/${PROFILE_PREFIX}`) || line.includes('lighthouse.child'),
    );
}
const profiles = () => readdirSync(tmpdir()).filter((name) => name.startsWith(PROFILE_PREFIX));

async function run(path: string, c: Partial<BrowserConfig>, signal = new AbortController().signal) {
  return runBrowser(`${site.url}${path}`, config(c), { signal, progress: noProgress, http: egress });
}

describe('browser engine', () => {
  it('measures a slow hero image and a late layout shift, with every score', async () => {
    const kept = new Map<string, { contentType: string; data: Buffer }>();
    const result = await runBrowser(`${site.url}/shift`, config({ runs: 1, throttling: 'none' }), {
      signal: new AbortController().signal,
      progress: noProgress,
      http: egress,
      artifacts: async (name, contentType, data) => void kept.set(name, { contentType, data }),
    });
    // The final screenshot (Lighthouse's JPEG), the filmstrip's frames and the full report, listed.
    expect(kept.get('screenshot')!.contentType).toBe('image/jpeg');
    expect(kept.get('screenshot')!.data.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect([...kept.keys()].filter((n) => n.startsWith('filmstrip-')).length).toBeGreaterThan(0);
    expect(JSON.parse(kept.get('lighthouse.json')!.data.toString()).lighthouseVersion).toBe('12.2.3');
    expect(result.artifacts.map((a) => a.name)).toEqual([...kept.keys()]);
    const stored = judgeResult('browser', config({}), { thresholds: ['lcp < 100', 'cls > 0.1'] }, [result]);
    expect([...Value.Errors(TestCatalog.browser.resultSchema, stored)]).toEqual([]);
    expect(result.runs).toHaveLength(1);
    expect(result.vitals.lcp).toBeGreaterThanOrEqual(HERO_DELAY_MS);
    expect(result.vitals.cls).toBeGreaterThan(0.1);
    for (const score of Object.values(result.scores)) {
      expect(score).toBeGreaterThanOrEqual(0);
      expect(score).toBeLessThanOrEqual(100);
    }
    // Nothing of the page was refused (Chromium's own calls home may be, with no internet).
    expect(result.refusedRequests.filter((r) => r.target.includes('127.0.0.1'))).toEqual([]);
    // Thresholds on browser metrics: the slow image fails an LCP budget, the banner's shift is caught.
    expect(stored.thresholds.map((t) => [t.expression, t.actual, t.passed])).toEqual([
      ['lcp < 100', result.vitals.lcp, false],
      ['cls > 0.1', result.vitals.cls, true],
    ]);
    const metrics = aggregateMetrics('browser', [result]);
    expect(metrics.lcp).toEqual({ value: result.vitals.lcp, unit: 'ms' });
    expect(metrics['score.performance']!.value).toBe(result.scores.performance);
  });

  it('reports a stable page with no layout shift', async () => {
    const result = await run('/stable', { runs: 1, throttling: 'none', categories: ['performance'] });
    expect(result.vitals.cls).toBeLessThan(0.01);
    expect(result.scores.accessibility).toBeNull();
    expect(result.scores.performance).not.toBeNull();
  });

  it('runs three loads and reports the median one with the spread', async () => {
    const stages: string[] = [];
    const result = await runBrowser(`${site.url}/stable`, config({ runs: 3, categories: ['performance'] }), {
      signal: new AbortController().signal,
      progress: (_pct, stage) => void stages.push(stage),
      http: egress,
    });
    expect(result.runs.map((r) => r.run)).toEqual([1, 2, 3]);
    expect([1, 2, 3]).toContain(result.medianRun);
    expect(result.vitals).toEqual(result.runs[result.medianRun - 1]!.vitals);
    expect(stages.filter((s) => s.endsWith('done'))).toEqual([
      'run 1 of 3 done',
      'run 2 of 3 done',
      'run 3 of 3 done',
    ]);
    const fcp = aggregateMetrics('browser', [result]).fcp!;
    expect(fcp.runs!.samples).toEqual(result.runs.map((r) => r.vitals.fcp));
  });

  it('refuses every way the page reaches for a refused address: the canary sees no connection', async () => {
    const result: BrowserResult = await run('/ssrf', {
      runs: 1,
      throttling: 'none',
      categories: ['performance'],
    });
    expect(canary.connections()).toBe(0);
    const refused = result.refusedRequests.map((r) => r.target);
    const authority = canary.url.replace('http://', '');
    for (const path of ['/img', '/script.js', '/frame', '/fetch', '/redirected']) {
      expect(refused).toContain(`${canary.url}${path}`);
    }
    // A WebSocket goes through the proxy as a CONNECT tunnel to the canary's host:port.
    expect(refused.some((t) => t === authority || t === `${canary.url}/ws`)).toBe(true);
    for (const r of result.refusedRequests.filter((x) => x.target.includes(authority))) {
      expect(r.reason).toBe('target refused: 127.0.0.2 is a loopback address');
    }
    expect(result.vitals.fcp).not.toBeNull();
  });

  it("refuses by name, with no DNS lookup, the browser's own services a page calls", async () => {
    const resolved: string[] = [];
    const recording = new Egress({
      allowlist: parseAllowlist('127.0.0.1/32'),
      resolver: async (host) => {
        resolved.push(host);
        throw new Error(`no lookups here: ${host}`);
      },
    });
    const result: BrowserResult = await runBrowser(
      `${site.url}/phone-home`,
      config({ runs: 1, throttling: 'none', categories: ['performance'] }),
      { signal: new AbortController().signal, progress: noProgress, http: recording },
    );
    const refused = new Map(result.refusedRequests.map((r) => [r.target, r.reason]));
    expect(refused.get('http://update.googleapis.com/service/update2/json')).toBe(
      'update.googleapis.com is a service of the browser itself, refused by name',
    );
    for (const host of ['accounts.google.com', 'redirector.gvt1.com', 'clients2.google.com']) {
      expect(refused.get(`${host}:443`)).toBe(`${host} is a service of the browser itself, refused by name`);
    }
    // Neither the page's references nor Chromium's own background traffic asked for a single name.
    expect(resolved).toEqual([]);
    expect(result.vitals.fcp).not.toBeNull();
  });

  it('a cancel mid-run ends the test and leaves no Chromium process nor profile', async () => {
    const controller = new AbortController();
    const reason = new EngineError('CANCELLED', 'cancelled by the user');
    const pending = runBrowser(`${site.url}/shift`, config({ runs: 2, throttling: 'none' }), {
      signal: controller.signal,
      progress: (_pct, stage) => {
        if (stage.startsWith('run 1 of 2:')) setTimeout(() => controller.abort(reason), 1_500);
      },
      http: egress,
    });
    await expect(pending).rejects.toBe(reason);
    expect(chromiumProcesses()).toEqual([]);
    expect(profiles()).toEqual([]);
  });

  it('a timeout mid-run does the same', async () => {
    const controller = new AbortController();
    const reason = new EngineError('TIMED_OUT', 'the test did not finish within 2000 ms');
    setTimeout(() => controller.abort(reason), 2_000);
    await expect(run('/shift', { runs: 1 }, controller.signal)).rejects.toBe(reason);
    expect(chromiumProcesses()).toEqual([]);
    expect(profiles()).toEqual([]);
    expect(existsSync(tmpdir())).toBe(true);
  });
});
