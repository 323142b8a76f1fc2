import type { BrowserArtifactInfo, BrowserConfig, BrowserResult } from '@crucible/contracts';
import { EngineError, abortReason, errorMessage } from '../errors.js';
import type { EngineContext } from './engine.js';
import { checkedTarget, egressOf } from './support.js';
import { launchChromium } from './browser/chromium.js';
import { EgressProxy } from './browser/egress-proxy.js';
import { join } from 'node:path';
import { medianRunIndex } from './browser/lighthouse.js';
import { runLighthouseProcess } from './browser/lighthouse-process.js';
import { failingAudits, filmstrip, finalScreenshot, runOf, scoresOf, vitalsOf } from './browser/report.js';
import type { Lhr } from './browser/report.js';

/** Where a browser test's screenshot, filmstrip and Lighthouse report are stored beside it. */
export type ArtifactSink = NonNullable<EngineContext['artifacts']>;

export interface BrowserEngineOptions {
  /** The Chromium binary (`CHROMIUM_PATH`). @defaultValue /usr/bin/chromium */
  chromiumPath?: string;
  /** Stores the artifacts when the context has no sink. @defaultValue the context's, else none kept */
  artifacts?: ArtifactSink;
}

/** One page load in a fresh Chromium (empty cache and profile), audited by Lighthouse. */
async function loadOnce(
  url: string,
  config: BrowserConfig,
  proxyUrl: string,
  ctx: EngineContext,
  chromiumPath: string | undefined,
): Promise<Lhr> {
  const chromium = await launchChromium({ path: chromiumPath, proxyUrl }, ctx.signal);
  try {
    const outFile = join(chromium.profileDir, 'lighthouse-result.json');
    return await runLighthouseProcess({ url, config, port: chromium.port, outFile }, ctx.signal);
  } finally {
    await chromium.kill();
  }
}

async function loadAll(
  url: string,
  config: BrowserConfig,
  proxyUrl: string,
  ctx: EngineContext,
  chromiumPath: string | undefined,
): Promise<Lhr[]> {
  const runs = config.runs ?? 3;
  const lhrs: Lhr[] = [];
  for (let i = 1; i <= runs; i++) {
    const share = (done: number) => Math.round(((i - 1 + done) / runs) * 90);
    await ctx.progress(share(0), `run ${i} of ${runs}: launching, loading, auditing`, { run: i, runs });
    let lhr: Lhr;
    try {
      lhr = await loadOnce(url, config, proxyUrl, ctx, chromiumPath);
    } catch (err) {
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      throw new EngineError('TARGET_UNREACHABLE', `run ${i} of ${runs} failed: ${errorMessage(err)}`, {
        cause: err,
        retryable: true,
      });
    }
    lhrs.push(lhr);
    const vitals = vitalsOf(lhr);
    await ctx.progress(share(1), `run ${i} of ${runs} done`, {
      run: i,
      runs,
      lcp: vitals.lcp,
      performance: scoresOf(lhr).performance,
    });
  }
  return lhrs;
}

/** Stores the median run's screenshot, filmstrip and full report; lists what was stored. */
async function storeArtifacts(lhr: Lhr, sink: ArtifactSink | undefined): Promise<BrowserArtifactInfo[]> {
  if (!sink) return [];
  const stored: BrowserArtifactInfo[] = [];
  const put = async (name: string, contentType: string, data: Buffer) => {
    await sink(name, contentType, data);
    stored.push({ name, contentType, bytes: data.length });
  };
  const screenshot = finalScreenshot(lhr);
  if (screenshot) await put('screenshot', screenshot.contentType, screenshot.data);
  let frame = 0;
  for (const f of filmstrip(lhr)) await put(`filmstrip-${++frame}-${f.timingMs}ms`, f.contentType, f.data);
  await put('lighthouse.json', 'application/json', Buffer.from(JSON.stringify(lhr)));
  return stored;
}

/**
 * Loads the page `runs` times in a headless Chromium whose every connection goes through the
 * egress guard (browser/egress-proxy.ts), audits each load with Lighthouse, and reports the median
 * run (Lighthouse's rule) with every run's values, the failing audits and the refused requests.
 */
export async function runBrowser(
  url: string,
  config: BrowserConfig,
  ctx: EngineContext,
  options: BrowserEngineOptions = {},
): Promise<BrowserResult> {
  const egress = egressOf(ctx);
  const target = checkedTarget(egress, url).toString();
  const proxy = new EgressProxy(egress);
  const proxyUrl = await proxy.listen();
  try {
    const lhrs = await loadAll(target, config, proxyUrl, ctx, options.chromiumPath);
    const median = medianRunIndex(lhrs);
    const lhr = lhrs[median]!;
    const runs = lhrs.map((l, i) => runOf(i + 1, l));
    if (runs.every((r) => r.error !== null) && runs[median]!.vitals.fcp === null) {
      throw new EngineError('TARGET_UNREACHABLE', `the page did not load: ${runs[median]!.error}`, {
        retryable: false,
      });
    }
    await ctx.progress(95, 'storing screenshots and report', {});
    const artifacts = await storeArtifacts(lhr, ctx.artifacts ?? options.artifacts);
    const vitals = vitalsOf(lhr);
    const scores = scoresOf(lhr);
    return {
      url: target,
      finalUrl: lhr.finalDisplayedUrl ?? target,
      device: config.device ?? 'mobile',
      throttling: config.throttling ?? 'simulate',
      lighthouseVersion: lhr.lighthouseVersion,
      userAgent: lhr.environment?.networkUserAgent ?? lhr.userAgent ?? '',
      vitals,
      scores,
      runs,
      medianRun: median + 1,
      failingAudits: failingAudits(lhr),
      refusedRequests: proxy.refused(),
      artifacts,
      summary: { performance: scores.performance, lcp: vitals.lcp, cls: vitals.cls, runs: runs.length },
    };
  } finally {
    await proxy.close();
  }
}
