import type {
  ApiConfig,
  BrowserConfig,
  PerformanceConfig,
  SecurityConfig,
  SeoConfig,
  StressConfig,
} from '@crucible/contracts';
import { Egress } from '@crucible/egress';
import type { Engine, EngineContext, EngineRegistry, EngineResult } from './engine.js';
import { runApi } from './api.engine.js';
import { runBrowser } from './browser.engine.js';
import type { BrowserEngineOptions } from './browser.engine.js';
import { runPerformance } from './performance.engine.js';
import { runSecurity } from './security.engine.js';
import { runSeo } from './seo.engine.js';
import { DEFAULT_STRESS_LIMITS, runStress } from './stress.engine.js';
import type { StressLimits } from './stress.engine.js';
import type { ParserPool } from '../parsing/parser-pool.js';
import { runShard } from './stress/shards/shard.js';

export interface EngineOptions {
  /** Server-side bounds of a stress test, whatever the user asks for. @defaultValue DEFAULT_STRESS_LIMITS */
  stressLimits?: StressLimits;
  /** Where pages are parsed. @defaultValue the process's shared pool */
  parser?: ParserPool;
  /** The Chromium of browser tests and where their artifacts go. @defaultValue /usr/bin/chromium, none kept */
  browser?: BrowserEngineOptions;
}

/** Binds a typed engine to the registry's shape, the worker's egress guard and parsing threads. */
function bind<C>(
  egress: Egress,
  parser: ParserPool | undefined,
  run: (url: string, config: C, ctx: EngineContext) => Promise<EngineResult>,
): Engine {
  return (url, config, ctx) =>
    run(url, config as C, { ...ctx, http: ctx.http ?? egress, parser: ctx.parser ?? parser });
}

/** The engines this worker ships, every request through `egress`; configs are validated by the processor. */
export function createEngines(egress: Egress, options: EngineOptions = {}): EngineRegistry {
  const stressLimits = options.stressLimits ?? DEFAULT_STRESS_LIMITS;
  const { parser } = options;
  return {
    performance: bind<PerformanceConfig>(egress, parser, runPerformance),
    api: bind<ApiConfig>(egress, parser, runApi),
    seo: bind<SeoConfig>(egress, parser, runSeo),
    security: bind<SecurityConfig>(egress, parser, runSecurity),
    stress: bind<StressConfig>(egress, parser, (url, config, ctx) =>
      runStress(url, config, ctx, stressLimits),
    ),
    browser: bind<BrowserConfig>(egress, parser, (url, config, ctx) =>
      runBrowser(url, config, ctx, options.browser),
    ),
    stressShard: (job, ctx) => runShard(job, { ...ctx, http: egress }),
  };
}

/** The engines with a guard that reaches public addresses only (no `TARGET_ALLOWLIST`). */
export const defaultEngines: EngineRegistry = createEngines(new Egress());
