import { Egress } from '@crucible/shared/egress';
import type { ApiConfig, PerformanceConfig, SecurityConfig, SeoConfig } from '@crucible/shared';
import type { Engine, EngineContext, EngineRegistry, EngineResult } from './engine.js';
import { runApi } from './api.engine.js';
import { runPerformance } from './performance.engine.js';
import { runSecurity } from './security.engine.js';
import { runSeo } from './seo.engine.js';

/** Binds a typed engine to the registry's shape and to the worker's egress guard. */
function bind<C>(
  egress: Egress,
  run: (url: string, config: C, ctx: EngineContext) => Promise<EngineResult>,
): Engine {
  return (url, config, ctx) => run(url, config as C, { ...ctx, http: ctx.http ?? egress });
}

/** The engines this worker ships, every request through `egress`; configs are validated by the processor. */
export function createEngines(egress: Egress): EngineRegistry {
  return {
    performance: bind<PerformanceConfig>(egress, runPerformance),
    api: bind<ApiConfig>(egress, runApi),
    seo: bind<SeoConfig>(egress, runSeo),
    security: bind<SecurityConfig>(egress, runSecurity),
  };
}

/** The engines with a guard that reaches public addresses only (no `TARGET_ALLOWLIST`). */
export const defaultEngines: EngineRegistry = createEngines(new Egress());
