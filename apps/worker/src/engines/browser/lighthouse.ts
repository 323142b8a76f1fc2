import type { BrowserConfig } from '@crucible/contracts';
import lighthouse, { desktopConfig } from 'lighthouse';
import type { Config, Flags } from 'lighthouse';
import { computeMedianRun, filterToValidRuns } from 'lighthouse/core/lib/median-run.js';
import type { Lhr } from './report.js';

// Lighthouse runs in the worker's process and drives a Chromium over its DevTools port. Mobile is
// Lighthouse's default config (a mid-range phone, slow 4G, 4× CPU slowdown); desktop is its
// desktop preset. `simulate` throttling models the slow link from an unthrottled load (fast,
// Lighthouse's and PageSpeed Insights' default); `devtools` really throttles; `none` measures
// the load as this machine saw it ('provided').

const THROTTLING: Record<NonNullable<BrowserConfig['throttling']>, Flags['throttlingMethod']> = {
  simulate: 'simulate',
  devtools: 'devtools',
  none: 'provided',
};

/** Longest a page may take to load before Lighthouse audits what it has. */
export const MAX_WAIT_FOR_LOAD_MS = 45_000;

/** The flags of one run against the Chromium listening on `port`. */
export function lighthouseFlags(config: BrowserConfig, port: number): Flags {
  const quiet = config.waitForNetworkIdle === false;
  return {
    port,
    output: 'json',
    logLevel: 'silent',
    onlyCategories: [...(config.categories ?? ['performance', 'accessibility', 'best-practices', 'seo'])],
    throttlingMethod: THROTTLING[config.throttling ?? 'simulate'],
    maxWaitForLoad: MAX_WAIT_FOR_LOAD_MS,
    ...(config.headers ? { extraHeaders: config.headers } : {}),
    // Without waiting for a quiet network the page counts as loaded at its load event.
    ...(quiet ? { networkQuietThresholdMs: 0, cpuQuietThresholdMs: 0, pauseAfterLoadMs: 0 } : {}),
  };
}

export function lighthouseConfig(config: BrowserConfig): Config | undefined {
  return config.device === 'desktop' ? desktopConfig : undefined;
}

/** One Lighthouse run; rejects when Lighthouse produced no result at all. */
export async function runLighthouse(url: string, config: BrowserConfig, port: number): Promise<Lhr> {
  const result = await lighthouse(url, lighthouseFlags(config, port), lighthouseConfig(config));
  if (!result) throw new Error('Lighthouse returned no result');
  return result.lhr as unknown as Lhr;
}

/**
 * The run Lighthouse itself would report of several: the one closest to the median FCP and the
 * median TTI (its `computeMedianRun`), among the runs that measured both; the first run when none did.
 */
export function medianRunIndex(lhrs: Lhr[]): number {
  type LH = Parameters<typeof computeMedianRun>[0][number];
  const valid = filterToValidRuns(lhrs as unknown as LH[]);
  if (valid.length === 0) return 0;
  return lhrs.indexOf(computeMedianRun(valid) as unknown as Lhr);
}
