import type { TestType } from '@crucible/shared';
import type { TimedGet } from '../http.js';

/** Reports progress: `pct` 0–100, a short stage name, and data worth showing live. */
export type ProgressReporter = (pct: number, stage: string, data?: object) => Promise<void> | void;

export interface EngineContext {
  /** Aborted on timeout, cancellation or shutdown; the engine stops at once and rethrows its reason. */
  signal: AbortSignal;
  progress: ProgressReporter;
  /** Outbound HTTP; defaults to {@link timedGet}. The seam the egress guard plugs into. */
  http?: TimedGet;
}

/** What every engine returns: `summary` is what live subscribers are sent on completion. */
export interface EngineResult {
  summary: unknown;
}

/** Runs one test: input → result, progress through the context. `config` is validated and defaulted. */
export type Engine = (
  url: string,
  config: Record<string, unknown>,
  ctx: EngineContext,
) => Promise<EngineResult>;

/** The engines a worker can run; a type without one fails its tests without retrying. */
export type EngineRegistry = Partial<Record<TestType, Engine>>;
