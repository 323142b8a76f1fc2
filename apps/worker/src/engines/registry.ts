import { Egress } from '@crucible/shared/egress';
import type { ApiConfig, PerformanceConfig, SecurityConfig, SeoConfig, StressConfig } from '@crucible/shared';
import type { Engine, EngineContext, EngineRegistry, EngineResult } from './engine.js';
import { runApi } from './api.engine.js';
import { runPerformance } from './performance.engine.js';
import { runSecurity } from './security.engine.js';
import { runSeo } from './seo.engine.js';
import { DEFAULT_STRESS_LIMITS, runStress } from './stress.engine.js';
import type { StressLimits } from './stress.engine.js';

export interface EngineOptions {
  /** Server-side bounds of a stress test, whatever the user asks for. @defaultValue DEFAULT_STRESS_LIMITS */
  stressLimits?: StressLimits;
}

/** Binds a typed engine to the registry's shape and to the worker's egress guard. */
function bind<C>(
  egress: Egress,
  run: (url: string, config: C, ctx: EngineContext) => Promise<EngineResult>,
): Engine {
  return (url, config, ctx) => run(url, config as C, { ...ctx, http: ctx.http ?? egress });
}

/** The engines this worker ships, every request through `egress`; configs are validated by the processor. */
export function createEngines(egress: Egress, options: EngineOptions = {}): EngineRegistry {
  const stressLimits = options.stressLimits ?? DEFAULT_STRESS_LIMITS;
  return {
    performance: bind<PerformanceConfig>(egress, runPerformance),
    api: bind<ApiConfig>(egress, runApi),
    seo: bind<SeoConfig>(egress, runSeo),
    security: bind<SecurityConfig>(egress, runSecurity),
    stress: bind<StressConfig>(egress, (url, config, ctx) => runStress(url, config, ctx, stressLimits)),
  };
}

/** The engines with a guard that reaches public addresses only (no `TARGET_ALLOWLIST`). */
export const defaultEngines: EngineRegistry = createEngines(new Egress());
