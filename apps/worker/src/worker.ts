import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { TEST_QUEUE_NAME, bullPrefix } from '@crucible/shared';
import type { EventLog, TestJobData } from '@crucible/shared';
import { TestsRepository } from '@crucible/db';
import type { Db } from '@crucible/db';
import type { EngineRegistry } from './engines/engine.js';
import { defaultEngines } from './engines/registry.js';
import { createProcessor } from './processor.js';
import type { ProcessOutcome } from './processor.js';

export interface TestWorkerDeps {
  db: Db;
  /** A `createRedis(url, 'worker')` client; BullMQ duplicates it for its blocking reads. The caller closes it. */
  connection: Redis;
  eventLog: EventLog;
  /** Key prefix of the deployment; the queue lives under `bullPrefix(prefix)`. */
  prefix: string;
  /** Jobs run at once. @defaultValue 5 */
  concurrency?: number;
  logger: Logger;
  /** Engines by test type. @defaultValue defaultEngines */
  engines?: EngineRegistry;
}

export interface TestWorker {
  worker: Worker<TestJobData, ProcessOutcome>;
  /** Stops taking jobs and waits for the running ones to finish. */
  close(): Promise<void>;
}

/** The BullMQ consumer of the test queue. */
export function createTestWorker(deps: TestWorkerDeps): TestWorker {
  const processor = createProcessor({
    tests: new TestsRepository(deps.db.kysely),
    eventLog: deps.eventLog,
    engines: deps.engines ?? defaultEngines,
    logger: deps.logger,
  });
  const worker = new Worker<TestJobData, ProcessOutcome>(TEST_QUEUE_NAME, processor, {
    connection: deps.connection,
    prefix: bullPrefix(deps.prefix),
    concurrency: deps.concurrency ?? 5,
  });
  // Without a listener an 'error' event (Redis gone) would crash the process.
  worker.on('error', (err) => deps.logger.error({ err }, 'queue worker error'));
  return {
    worker,
    close: () => worker.close(),
  };
}
