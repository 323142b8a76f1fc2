import type { AbortThreshold, StressShardJobData, TestType } from '@crucible/contracts';
import type { Egress } from '@crucible/egress';
import type { ParserPool } from '../parsing/parser-pool.js';
import type { ShardFanOut } from './stress/shards/protocol.js';
import type { ShardContext, ShardOutcome } from './stress/shards/shard.js';

/** Reports progress: `pct` 0–100, a short stage name, and data worth showing live. */
export type ProgressReporter = (pct: number, stage: string, data?: object) => Promise<void> | void;

export interface EngineContext {
  /** Aborted on timeout, cancellation or shutdown; the engine stops at once and rethrows its reason. */
  signal: AbortSignal;
  progress: ProgressReporter;
  /**
   * The egress guard every outbound request goes through. The registry supplies the worker's
   * (with `TARGET_ALLOWLIST`); tests supply their own.
   */
  http?: Egress;
  /**
   * Where documents, stylesheets and JSON bodies are parsed, off the event loop. The registry
   * supplies the worker's; absent, a pool shared by the process.
   */
  parser?: ParserPool;
  /**
   * Live load figures of a stress test, once a second: the processor publishes them on
   * `stress-test-{testId}`. Absent, they only go to `progress`.
   */
  stressStats?: (data: object) => Promise<void> | void;
  /**
   * Where a stress test with `shards` > 1 puts its shards' jobs and hears them: the processor binds
   * it to the attempt. Absent, the whole load runs in this process.
   */
  stressShards?: ShardFanOut;
  /**
   * Thresholds that stop the test when they fail on the live figures (`abortOnFail`): a stress
   * test judges them once a second and ends early with `aborted` in its result.
   */
  abortOnFail?: readonly AbortThreshold[];
  /**
   * Stores a file beside the test (a browser test's screenshot, filmstrip, report); the processor
   * binds it to the test. Absent, nothing is kept.
   */
  artifacts?: (name: string, contentType: string, data: Buffer) => Promise<void>;
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

/** Runs one shard of a sharded stress test (the registry binds it to the worker's guard and limits). */
export type ShardEngine = (job: StressShardJobData, ctx: Omit<ShardContext, 'http'>) => Promise<ShardOutcome>;

/**
 * The engines a worker can run; a type without one fails its tests without retrying. `stressShard`
 * runs the shards of sharded stress tests (a worker without it takes none).
 */
export type EngineRegistry = Partial<Record<TestType, Engine>> & { stressShard?: ShardEngine };
