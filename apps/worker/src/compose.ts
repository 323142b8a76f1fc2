import { Egress } from '@crucible/egress';
import { createEngines } from './engines/registry.js';
import type { WorkerSettings } from './env.js';
import type { ParserPool } from './parsing/parser-pool.js';
import { createTestWorker } from './worker.js';
import type { TestWorker, TestWorkerDeps } from './worker.js';

/** What the process running the worker provides: its connections, logger, parser threads and drain bound. */
export type WorkerServices = Pick<
  TestWorkerDeps,
  'db' | 'backplane' | 'cache' | 'logger' | 'drainTimeoutMs'
> & {
  /** Threads that parse pages, stylesheets and JSON bodies; the caller closes them after the worker. */
  parser: ParserPool;
};

/**
 * The test worker as every mode runs it (`main.ts`, all-in-one): its engines, egress guard and
 * limits built from its settings, so a variable means the same in both.
 */
export function composeWorker(services: WorkerServices, settings: WorkerSettings): TestWorker {
  const { parser, ...deps } = services;
  // Notifications leave through the same guard as tests: a channel reaches what a test may reach.
  const egress = new Egress({ allowlist: settings.targetAllowlist });
  return createTestWorker({
    ...deps,
    queues: settings.queues,
    concurrency: settings.concurrency,
    notifications: { settings: settings.notify, egress },
    engines: createEngines(egress, {
      stressLimits: {
        maxConnections: settings.stressMaxConnections,
        maxDurationSec: settings.stressMaxDurationSec,
        maxShards: settings.stressMaxShards,
      },
      parser,
      browser: { chromiumPath: settings.chromiumPath },
    }),
    lockDurationMs: settings.lockDurationMs,
    maxStressConnectionsPerOwner: settings.workspaceMaxStressConnections,
    maxRunningPerWorkspace: settings.workspaceMaxRunning,
    maxStressConnectionsPerTest: settings.stressMaxConnections,
    shardConcurrency: settings.stressMaxShards,
    browserConcurrency: settings.browserConcurrency,
    targetHostMaxConcurrent: settings.targetHostMaxConcurrent,
    resolveHost: (host) => egress.resolve(host),
    monitorConcurrency: settings.monitorConcurrency,
  });
}
