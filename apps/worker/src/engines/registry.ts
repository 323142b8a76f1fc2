import type { PerformanceConfig } from '@crucible/shared';
import type { EngineRegistry } from './engine.js';
import { runPerformance } from './performance.engine.js';

/** The engines this worker ships; the processor has validated each config against the catalogue. */
export const defaultEngines: EngineRegistry = {
  performance: (url, config, ctx) => runPerformance(url, config as PerformanceConfig, ctx),
};
