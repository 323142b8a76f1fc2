import { runningQuotaReason } from '@crucible/contracts';
import { QueueStatusPublisher, WorkerRegistry, readQueueCounts } from '@crucible/backplane';
import type { EventLog, PresenceStore, PubSub, StressConnectionStore } from '@crucible/contracts';
import type { Allowlist } from '@crucible/egress';
import type { GroupCommitOptions } from '@crucible/runtime';
import type {
  TestArtifactsRepository,
  TestAttemptsRepository,
  TestDispatchRepository,
  TestsRepository,
  WorkspaceQuotasRepository,
} from '@crucible/db';
import type { TestQueues } from '@crucible/backplane';
import { createAdmission } from '../quotas/admission.js';
import type { QuotasService } from '../quotas/quotas.js';
import { createCancel } from './cancel.js';
import type { Audit } from '../audit.js';
import { createCleanup } from './cleanup.js';
import { createArtifact } from './artifact.js';
import { createDetail } from './detail.js';
import { createPublish } from './events.js';
import { createList } from './list.js';
import { QueuePositions } from './queue-positions.js';
import type { PositionOptions } from './queue-positions.js';
import { createQueueStatus } from './queue-status.js';
import { createRerunAsNew } from './rerun.js';
import { createRetry } from './retry.js';
import { createStanding } from './standing.js';
import { createSubmitCommitter } from './submit/committer.js';
import { createEnqueueBatch } from './submit/enqueue-batch.js';
import { createSubmit } from './submit/submit.js';

export interface TestsServiceDeps {
  tests: TestsRepository;
  /** The tests waiting for their turn (counted as waiting in the queue status). */
  dispatch: Pick<TestDispatchRepository, 'countWaiting'>;
  /** The attempts' history a test's detail lists. */
  attempts: Pick<TestAttemptsRepository, 'attemptsOf'>;
  /** Files tests keep beside their result (browser screenshots, reports). */
  artifacts: Pick<TestArtifactsRepository, 'get'>;
  queue: TestQueues;
  /** The workspaces' quotas: limits and the per-minute count of submissions. */
  quotas: QuotasService;
  /** Where queued tests are counted and stress budgets charged, under each workspace's lock. */
  quotaRepository: Pick<WorkspaceQuotasRepository, 'admit' | 'chargeStress' | 'usage'>;
  eventLog: EventLog;
  /** Cancel requests and the dispatchers' wake-ups are broadcast to every worker process on it. */
  pubsub: PubSub;
  /** Where live workers announce themselves (capacity for the ETA, the `workers` count). */
  presence: PresenceStore;
  /** Why queued stress tests wait for connections (their `waitReason`). @defaultValue none noted */
  stressConnections?: Pick<StressConnectionStore, 'waiting'>;
  /** Why queued stress tests wait for their target host's slot (their `waitReason`). @defaultValue none noted */
  targetHosts?: Pick<StressConnectionStore, 'waiting'>;
  log: { warn(obj: object, msg: string): void };
  /** Private hosts/ranges tests may target (`TARGET_ALLOWLIST`). @defaultValue none */
  targetAllowlist?: Allowlist;
  /** How concurrent submissions are grouped into one INSERT and one announcement. */
  groupCommit?: GroupCommitOptions;
  /**
   * The event log sends a publish before the call returns, on the pub/sub's own connection
   * (`Backplane.eventLogOrderedWithQueue`): the dispatchers' wake-up then need not wait for the
   * announcement's answer to come after it. @defaultValue false
   */
  eventLogOrderedWithQueue?: boolean;
  positions?: PositionOptions;
  /**
   * A running test with no write for this long is shown `stalled` (its worker presumed lost) rather
   * than given an ETA. @defaultValue DEFAULT_STALLED_AFTER_MS (BullMQ's lock duration)
   */
  stalledAfterMs?: number;
  /** Where cleanups are recorded (each workspace's audit log). @defaultValue not recorded */
  audit?: Audit;
}

/**
 * The tests service: each operation is its own module (submit/, detail, cancel, retry, rerun, list,
 * queue-status, cleanup); this wires them to the shared pieces they declare they need.
 */
export function createTestsService(deps: TestsServiceDeps) {
  const { tests, queue, eventLog, log } = deps;
  const registry = new WorkerRegistry(deps.presence);
  const status = new QueueStatusPublisher({
    read: () => readQueueCounts(queue, registry, () => deps.dispatch.countWaiting()),
    eventLog,
    onError: (err) => log.warn({ err }, 'could not publish the queue status'),
  });
  const publish = createPublish(eventLog, log);
  const standing = createStanding({
    tests,
    registry,
    stressConnections: deps.stressConnections,
    targetHosts: deps.targetHosts,
    stalledAfterMs: deps.stalledAfterMs,
    quotaReason: async (row) => {
      if (!row.workspace_id) return null;
      const { running } = await deps.quotas.limitsOf(row.workspace_id);
      if (running === null) return null;
      const used = await deps.quotaRepository.usage(row.workspace_id);
      return used.running >= running ? runningQuotaReason(running) : null;
    },
    log,
  });
  const positions = new QueuePositions(tests, standing.capacity, deps.positions);
  const committer = createSubmitCommitter({
    tests: {
      createMany: createAdmission({ tests, quotas: deps.quotaRepository, service: deps.quotas }),
    },
    positions,
    enqueueCreated: createEnqueueBatch({
      eventLog,
      pubsub: deps.pubsub,
      positions,
      status,
      eventLogOrderedWithQueue: deps.eventLogOrderedWithQueue,
      log,
    }),
    groupCommit: deps.groupCommit,
  });
  const { targetAllowlist } = deps;

  return {
    submit: createSubmit({ tests, committer, standing, targetAllowlist }),
    detail: createDetail({ tests, attempts: deps.attempts, standing }),
    artifact: createArtifact({ tests, artifacts: deps.artifacts }),
    cancel: createCancel({ tests, queue, pubsub: deps.pubsub, publish, status, log }),
    rerunAsNew: createRerunAsNew({ tests, committer, publish, targetAllowlist }),
    retry: createRetry({ tests, pubsub: deps.pubsub, publish, status, standing, log }),
    list: createList({ tests }),
    queueStatus: createQueueStatus({ tests, queue, registry, standing, dispatch: deps.dispatch }),
    cleanup: createCleanup({ tests, publish, audit: deps.audit }),
    close(): void {
      status.close();
    },
  };
}

export type { PositionOptions } from './queue-positions.js';

export type TestsService = ReturnType<typeof createTestsService>;
