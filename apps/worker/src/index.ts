export { createTestWorker, drainNotice } from './worker.js';
export type { TestWorker, TestWorkerDeps } from './worker.js';
export { AbortReasons, createProcessor } from './processor.js';
export { createReconciler } from './reconciler.js';
export type { Reconciler, ReconcilerDeps } from './reconciler.js';
export type { ProcessOutcome, ProcessorDeps } from './processor.js';
export { createEngines, defaultEngines } from './engines/registry.js';
// What each engine returns is typed in @crucible/contracts (the catalogue's result schemas).
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
export type { TimingPhase } from './engines/performance.engine.js';
export { DEFAULT_STRESS_LIMITS, activeUsers, runStress } from './engines/stress.engine.js';
export type { StressLimits } from './engines/stress.engine.js';
export type { EngineOptions } from './engines/registry.js';
export { runApi } from './engines/api.engine.js';
export { runSeo } from './engines/seo.engine.js';
export type { PageCap } from './parsing/html.js';
export { ParserPool } from './parsing/parser-pool.js';
export type { ParserPoolOptions } from './parsing/parser-pool.js';
export { runSecurity } from './engines/security.engine.js';
export { runBrowser } from './engines/browser.engine.js';
export type { ArtifactSink, BrowserEngineOptions } from './engines/browser.engine.js';
export { parseTestConfig } from './config.js';
export { EngineError } from './errors.js';
export type { EngineErrorCode } from './errors.js';
export { WORKER_DEFAULTS, loadWorkerEnv, loadWorkerSettings } from './env.js';
export type { LogLevel, WorkerEnv, WorkerSettings, WorkerSettingsDefaults } from './env.js';
export { composeWorker } from './compose.js';
export type { WorkerServices } from './compose.js';
export { median, percentile, summarize } from './stats.js';
export type { PhaseSummary } from './stats.js';
