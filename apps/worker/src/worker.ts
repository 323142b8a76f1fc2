import type { Logger } from 'pino';
import type { Backplane, TestQueueWorker } from '@crucible/backplane';
import { TestsRepository } from '@crucible/db';
import type { Db } from '@crucible/db';
import type { EngineRegistry } from './engines/engine.js';
import { defaultEngines } from './engines/registry.js';
import { createProcessor } from './processor.js';
import type { ProcessOutcome } from './processor.js';

export interface TestWorkerDeps {
  db: Db;
  /** Where the queue is consumed and progress published; the caller closes it after the worker. */
  backplane: Pick<Backplane, 'createWorker' | 'eventLog'>;
  /** Jobs run at once. @defaultValue 5 */
  concurrency?: number;
  logger: Logger;
  /** Engines by test type. @defaultValue defaultEngines */
  engines?: EngineRegistry;
}

export interface TestWorker {
  worker: TestQueueWorker<ProcessOutcome>;
  /** Stops taking jobs and waits for the running ones to finish. */
  close(): Promise<void>;
}

/** The BullMQ consumer of the test queue. */
export function createTestWorker(deps: TestWorkerDeps): TestWorker {
  const processor = createProcessor({
    tests: new TestsRepository(deps.db.kysely),
    eventLog: deps.backplane.eventLog,
    engines: deps.engines ?? defaultEngines,
    logger: deps.logger,
  });
  const worker = deps.backplane.createWorker(processor, { concurrency: deps.concurrency ?? 5 });
  // Without a listener an 'error' event (Redis gone) would crash the process.
  worker.on('error', (err) => deps.logger.error({ err }, 'queue worker error'));
  return {
    worker,
    close: () => worker.close(),
  };
}
