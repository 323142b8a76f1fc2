export { createTestWorker, drainNotice } from './worker.js';
export type { TestWorker, TestWorkerDeps } from './worker.js';
export { AbortReasons, createProcessor } from './processor.js';
export { createReconciler } from './reconciler.js';
export type { Reconciler, ReconcilerDeps } from './reconciler.js';
export type { ProcessOutcome, ProcessorDeps } from './processor.js';
export { createEngines, defaultEngines } from './engines/registry.js';
export type {
  Engine,
  EngineContext,
  EngineRegistry,
  EngineResult,
  ProgressReporter,
} from './engines/engine.js';
export {
  PERFORMANCE_MAX_BODY_BYTES,
  runPerformance,
  scorePerformance,
} from './engines/performance.engine.js';
export type {
  PerformanceIteration,
  PerformanceResult,
  ResourceSummary,
  TimingPhase,
} from './engines/performance.engine.js';
export { DEFAULT_STRESS_LIMITS, activeUsers, runStress } from './engines/stress.engine.js';
export type { StressLimits, StressResult, StressSecond } from './engines/stress.engine.js';
export type { EngineOptions } from './engines/registry.js';
export { runApi } from './engines/api.engine.js';
export type { ApiResult, StepResult } from './engines/api.engine.js';
export { runSeo } from './engines/seo.engine.js';
export type { SeoResult } from './engines/seo.engine.js';
export type { SeoCheck } from './parsing/seo-page.js';
export type { PageCap } from './parsing/html.js';
export { ParserPool } from './parsing/parser-pool.js';
export type { ParserPoolOptions } from './parsing/parser-pool.js';
export { runSecurity } from './engines/security.engine.js';
export type { SecurityFinding, SecurityResult } from './engines/security.engine.js';
export { parseTestConfig } from './config.js';
export { EngineError } from './errors.js';
export type { EngineErrorCode } from './errors.js';
export { loadWorkerEnv } from './env.js';
export type { LogLevel, WorkerEnv } from './env.js';
export { median, percentile, summarize } from './stats.js';
export type { PhaseSummary } from './stats.js';
