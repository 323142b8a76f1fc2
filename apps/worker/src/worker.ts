import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { QueueStatusPublisher, WorkerRegistry, readQueueCounts } from '@crucible/backplane';
import { invalidatingEventLog } from '@crucible/cache';
import type { Cache } from '@crucible/cache';
import {
  CANCEL_TOPIC,
  DEFAULT_QUOTA_LIMITS,
  MONITOR_QUEUE_NAME,
  STRESS_SHARD_QUEUE_NAME,
  TEST_QUEUE_NAMES,
  TestQueueNames,
  queueNameOf,
} from '@crucible/contracts';
import type { CancelMessage, StressShardJobData, TestQueueName, TestType } from '@crucible/contracts';
import type { Backplane, TestQueueWorker } from '@crucible/backplane';
import {
  IdempotencyKeysRepository,
  MonitorsRepository,
  TestArtifactsRepository,
  TestAttemptsRepository,
  TestDispatchRepository,
  TestsRepository,
  WorkspaceQuotasRepository,
} from '@crucible/db';
import type { Db } from '@crucible/db';
import type { Egress } from '@crucible/egress';
import { Dispatcher as NotifyDispatcher } from '@crucible/notify';
import type { DispatcherOptions as NotifyDispatcherOptions, NotifySettings } from '@crucible/notify';
import type { EngineRegistry } from './engines/engine.js';
import { defaultEngines } from './engines/registry.js';
import { DEFAULT_STRESS_LIMITS } from './engines/stress.engine.js';
import { AbortReasons, createProcessor } from './processor.js';
import type { ProcessOutcome } from './processor.js';
import { createReconciler } from './reconciler.js';
import { createDispatcher } from './dispatch/dispatcher.js';
import type { Dispatcher } from './dispatch/dispatcher.js';
import { createMonitorScheduler } from './monitors/scheduler.js';
import type { MonitorScheduler, MonitorSchedulerDeps } from './monitors/scheduler.js';
import { createRunSettler } from './monitors/settle.js';
import { createAlertEvaluator } from './alerts/evaluate.js';
import { startReminderSweep } from './alerts/reminders.js';
import { workspaceLimits } from './attempt/workspace-limits.js';
import { LocalShards, createShardProcessor } from './attempt/stress-shards.js';
import type { ShardOutcome } from './engines/stress/shards/shard.js';
import type { WorkspaceLimits } from './attempt/workspace-limits.js';

export interface TestWorkerDeps {
  db: Db;
  /**
   * Where the queue is consumed and re-filled, progress published, cancels heard (`CANCEL_TOPIC`)
   * and workers announced; the caller closes it after the worker.
   */
  backplane: Pick<
    Backplane,
    | 'createWorker'
    | 'queue'
    | 'monitorQueue'
    | 'shardQueue'
    | 'eventLog'
    | 'pubsub'
    | 'presence'
    | 'stressConnections'
    | 'targetHosts'
    | 'runningSlots'
  >;
  /**
   * The deployment's response cache: each status event drops the test's cached views before it goes
   * out (DESIGN.md, "Response cache"). Without it nothing is invalidated.
   */
  cache?: Cache;
  /**
   * The queues consumed (`WORKER_QUEUES`): `tests` (every type but browser) and `browser`.
   * @defaultValue both
   */
  queues?: readonly TestQueueName[];
  /** Jobs of the `tests` queue run at once. @defaultValue 5 */
  concurrency?: number;
  logger: Logger;
  /** Engines by test type. @defaultValue defaultEngines */
  engines?: EngineRegistry;
  /** Wall-clock bound of one attempt. @defaultValue the catalogue's `timeoutMs(config)` */
  timeoutMs?: (testType: TestType, config: Record<string, unknown>) => number;
  /** A job whose worker has not renewed its lock for this long is presumed lost and runs again. @defaultValue 30 s */
  lockDurationMs?: number;
  /** How often this worker looks for jobs whose worker was lost. @defaultValue the lock duration, at most 15 s */
  stalledIntervalMs?: number;
  /** How often the reconciler runs. @defaultValue 15 s */
  reconcileIntervalMs?: number;
  /** A queued row younger than this is not reconciled (its API may still be enqueueing it). @defaultValue 10 s */
  reconcileGraceMs?: number;
  /** A running row not written to for this long, and not announced by a live worker, is reconciled. @defaultValue 30 s */
  reconcileRunningStaleMs?: number;
  /** How often this worker announces itself (live workers, capacity, running tests). @defaultValue 5 s */
  heartbeatMs?: number;
  /** On close, how long running tests may go on before they are handed back to the queue. @defaultValue 20 s */
  drainTimeoutMs?: number;
  /** A test's progress is written to its row at most this often (0: every report). @defaultValue 1 s */
  progressWriteIntervalMs?: number;
  /** Clock of the progress interval, for tests. @defaultValue Date.now */
  now?: () => number;
  /**
   * Connections one workspace's stress tests may hold together (`WORKSPACE_MAX_STRESS_CONNECTIONS`),
   * held in the backplane's store; a test past it waits queued. An instance admin's override of a
   * workspace wins. @defaultValue 200
   */
  maxStressConnectionsPerOwner?: number;
  /**
   * Tests one workspace runs at once (`WORKSPACE_MAX_RUNNING`; null: no cap); more wait queued. An
   * instance admin's override of a workspace wins. @defaultValue 10
   */
  maxRunningPerWorkspace?: number | null;
  /** How long a test over its workspace's running quota waits before it asks again. @defaultValue 2 s */
  runningQuotaRetryMs?: number;
  /** What the stress engine holds one test to (`STRESS_MAX_CONNECTIONS`). @defaultValue 200 */
  maxStressConnectionsPerTest?: number;
  /** How long a stress test that does not fit waits before it asks again. @defaultValue 1 s */
  stressRetryMs?: number;
  /** Jobs of the `browser` queue run at once (`BROWSER_CONCURRENCY`); more wait queued. @defaultValue 1 */
  browserConcurrency?: number;
  /** Stress tests against one host at once, deployment-wide (`TARGET_HOST_MAX_CONCURRENT`). @defaultValue 2 */
  targetHostMaxConcurrent?: number;
  /**
   * Resolves a test's target host as its engines' egress guard does (compose passes the guard's
   * `resolve`), so the host cap counts servers, not names. @defaultValue the URL's host name, unresolved
   */
  resolveHost?: (host: string) => Promise<{ address: string }>;
  /** How often the dispatcher looks for free slots without being asked. @defaultValue 1 s */
  dispatchIntervalMs?: number;
  /**
   * A test the API has not announced to this worker is released no sooner than this after it was
   * written (its `queue:job:added` goes first). @defaultValue 2 s
   */
  dispatchAnnounceGraceMs?: number;
  /** Tests one workspace may have in flight (released, not finished); more wait their turn. @defaultValue no cap */
  maxInFlightPerWorkspace?: (workspaceId: string | null) => number;
  /** Shards of sharded stress tests this process runs at once (`STRESS_MAX_SHARDS`). @defaultValue 16 */
  shardConcurrency?: number;
  /** Monitor runs at once, on their own queue (`MONITOR_CONCURRENCY`). @defaultValue 5 */
  monitorConcurrency?: number;
  /**
   * The monitor scheduler of this process (one per worker; they share the work through
   * PostgreSQL): its options, or false for none. @defaultValue on, with its defaults
   */
  monitorScheduler?:
    | false
    | Pick<MonitorSchedulerDeps, 'batch' | 'maxSleepMs' | 'maxMissed' | 'lateGraceMs' | 'inMaintenance'>;
  /**
   * Sends the notification outbox (DESIGN.md, "Alerts and notifications"): providers' endpoints,
   * SMTP and retry time, and the egress guard every send goes through. @defaultValue undefined (none sent)
   */
  notifications?: { settings: NotifySettings; egress: Egress } & Pick<
    NotifyDispatcherOptions,
    'pollMs' | 'backoff'
  >;
}

export interface TestWorker {
  /** The BullMQ consumer of each queue this worker takes jobs from. */
  consumers: ReadonlyMap<TestQueueName, TestQueueWorker<ProcessOutcome>>;
  /** The consumer of the monitor runs' own queue. */
  monitorWorker: TestQueueWorker<ProcessOutcome>;
  /** This process's monitor scheduler, unless turned off. */
  scheduler?: MonitorScheduler;
  /** Resolves once the worker takes jobs and hears cancel requests. */
  ready: Promise<void>;
  /** Runs one reconciliation pass now (it also runs every `reconcileIntervalMs`). */
  reconcile(): Promise<number>;
  /** Releases waiting tests into free slots now (it also runs when slots free and tests arrive). */
  dispatch(): Promise<number>;
  /**
   * Stops taking jobs and lets running ones finish for up to `drainTimeoutMs`; the rest are aborted
   * and handed back to the queue (no attempt is used up), so another worker runs them.
   */
  close(): Promise<void>;
  /** How many tests this worker is running now. */
  runningCount(): number;
  /**
   * Ends the drain early: running tests are handed back to the queue at once (a second Ctrl-C),
   * now if `close()` has begun, else as soon as it begins.
   */
  handBack(): void;
}

/** What a person stopping a worker with running tests is told (`pnpm start`, `pnpm start:worker`). */
export function drainNotice(running: number, drainTimeoutMs: number): string {
  const tests = running === 1 ? '1 running test' : `${running} running tests`;
  return `finishing ${tests} (up to ${Math.ceil(drainTimeoutMs / 1000)} s; Ctrl-C again to hand ${running === 1 ? 'it' : 'them'} back now)`;
}

type QueueWorker = TestQueueWorker<ProcessOutcome>;
type EventLog = Backplane['eventLog'];

/** The job function: one attempt of a test, with the engines, limits and stores it needs. */
function processorFor(
  deps: TestWorkerDeps,
  limits: WorkspaceLimits,
  attempts: TestAttemptsRepository,
  eventLog: EventLog,
  logger: Logger,
  running: Set<string>,
  onChange: () => void,
) {
  const tests = new TestsRepository(deps.db.kysely);
  const perOwner = deps.maxStressConnectionsPerOwner ?? DEFAULT_STRESS_LIMITS.maxConnections;
  return createProcessor({
    attempts,
    baselineMetrics: (testId) => tests.metricsOf(testId),
    eventLog,
    engines: deps.engines ?? defaultEngines,
    logger,
    timeoutMs: deps.timeoutMs,
    running,
    onChange,
    progressWriteIntervalMs: deps.progressWriteIntervalMs,
    now: deps.now,
    stressConnections: {
      store: deps.backplane.stressConnections,
      perOwner,
      perWorkspace: limits,
      perTest: deps.maxStressConnectionsPerTest ?? DEFAULT_STRESS_LIMITS.maxConnections,
      retryMs: deps.stressRetryMs,
    },
    hostCap: {
      store: deps.backplane.targetHosts,
      perHost: deps.targetHostMaxConcurrent ?? 2,
      hostOf: (url) => hostOf(url, deps.resolveHost),
      retryMs: deps.stressRetryMs,
    },
    runningQuota: {
      store: deps.backplane.runningSlots,
      limits,
      retryMs: deps.runningQuotaRetryMs,
    },
    artifacts: new TestArtifactsRepository(deps.db.kysely),
    shards: { queue: deps.backplane.shardQueue, pubsub: deps.backplane.pubsub },
  });
}

/** A URL's host as the cap counts it: the resolved address, or the lower-cased name without one. */
async function hostOf(url: string, resolve: TestWorkerDeps['resolveHost']): Promise<string> {
  const name = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return resolve ? (await resolve(name)).address : name;
}

/** Logs what the queue worker reports, and aborts the jobs whose lock it could not renew. */
function watchWorker(worker: QueueWorker, log: Logger): void {
  // Without a listener an 'error' event (Redis gone) would crash the process.
  worker.on('error', (err) => log.error({ err }, 'queue worker error'));
  worker.on('stalled', (jobId) => log.warn({ jobId }, 'a job whose worker was lost runs again'));
  worker.on('lockRenewalFailed', (jobIds) => {
    for (const jobId of jobIds) worker.cancelJob(jobId, AbortReasons.LOCK_LOST);
  });
}

/**
 * Hears `CANCEL_TOPIC`: a test this worker is running is aborted, and so is every shard of it
 * running here (without waiting for the test's own stop); any other message is ignored.
 */
function cancelListener(workers: QueueWorker[], shards: LocalShards, log: Logger): (payload: string) => void {
  return (payload) => {
    let message: CancelMessage;
    try {
      message = JSON.parse(payload) as CancelMessage;
    } catch {
      log.warn({ payload }, 'ignored a malformed cancel message');
      return;
    }
    if (workers.some((worker) => worker.cancelJob(message.jobId, AbortReasons.CANCELLED))) {
      log.info({ testId: message.testId }, 'cancelling a running test');
    }
    const stopped = shards.abortTest(message.testId, AbortReasons.CANCELLED);
    if (stopped > 0) log.info({ testId: message.testId, shards: stopped }, 'cancelling shards of a test');
  };
}

/** Announces this worker (capacity, running tests) every `intervalMs`; `beat` announces it now. */
function startHeartbeat(
  registry: WorkerRegistry,
  self: { id: string; slots: Partial<Record<TestQueueName, number>>; running: Set<string> },
  intervalMs: number,
  log: Logger,
): { beat: () => Promise<void>; timer: NodeJS.Timeout } {
  const beat = () =>
    registry
      .beat({
        id: self.id,
        concurrency: Object.values(self.slots).reduce((sum, n) => sum + n, 0),
        slots: self.slots,
        active: [...self.running],
      })
      .catch((err: unknown) => log.warn({ err }, 'heartbeat failed'));
  const timer = setInterval(beat, intervalMs);
  timer.unref();
  return { beat, timer };
}

/** Runs the reconciler every `reconcileIntervalMs`; `reconcile` runs a pass now. */
function startReconciler(
  deps: TestWorkerDeps,
  parts: {
    attempts: TestAttemptsRepository;
    eventLog: EventLog;
    registry: WorkerRegistry;
    workerId: string;
    log: Logger;
  },
): { reconcile: () => Promise<number>; timer: NodeJS.Timeout } {
  const intervalMs = deps.reconcileIntervalMs ?? 15_000;
  const reconciler = createReconciler({
    tests: new TestsRepository(deps.db.kysely),
    attempts: parts.attempts,
    idempotencyKeys: new IdempotencyKeysRepository(deps.db.kysely),
    queue: deps.backplane.queue,
    monitorQueue: deps.backplane.monitorQueue,
    registry: parts.registry,
    eventLog: parts.eventLog,
    presence: deps.backplane.presence,
    workerId: parts.workerId,
    logger: parts.log,
    queuedGraceMs: deps.reconcileGraceMs,
    runningStaleMs: deps.reconcileRunningStaleMs,
  });
  // The pass lock is held for most of an interval, so N workers make about one pass per interval.
  const reconcile = () => reconciler.reconcile(Math.max(1_000, intervalMs - 500));
  const timer = setInterval(() => {
    reconcile().catch((err: unknown) => parts.log.warn({ err }, 'reconciliation failed'));
  }, intervalMs);
  timer.unref();
  return { reconcile, timer };
}

/** The fair dispatcher of this process: a pass when slots free up here, when told, and every second. */
function startDispatcher(
  deps: TestWorkerDeps,
  parts: {
    queueName: TestQueueName;
    registry: WorkerRegistry;
    concurrency: number;
    log: Logger;
    onReleased: () => void;
    limits: WorkspaceLimits;
  },
): Dispatcher {
  return createDispatcher({
    lists: new TestDispatchRepository(deps.db.kysely),
    queueName: parts.queueName,
    queue: deps.backplane.queue.named(parts.queueName),
    registry: parts.registry,
    pubsub: deps.backplane.pubsub,
    logger: parts.log,
    concurrency: parts.concurrency,
    intervalMs: deps.dispatchIntervalMs,
    announceGraceMs: deps.dispatchAnnounceGraceMs,
    // A workspace at its running quota gets no more released: its tests wait in PostgreSQL, in turn.
    maxInFlight:
      deps.maxInFlightPerWorkspace ??
      ((workspaceId) => (workspaceId ? (parts.limits.peek(workspaceId).running ?? Infinity) : Infinity)),
    onReleased: parts.onReleased,
  });
}

/** The workspaces' quotas this worker holds tests to: its settings under each workspace's overrides. */
function limitsOf(deps: TestWorkerDeps): WorkspaceLimits {
  return workspaceLimits(new WorkspaceQuotasRepository(deps.db.kysely), {
    ...DEFAULT_QUOTA_LIMITS,
    running:
      deps.maxRunningPerWorkspace === undefined ? DEFAULT_QUOTA_LIMITS.running : deps.maxRunningPerWorkspace,
    stressConnections: deps.maxStressConnectionsPerOwner ?? DEFAULT_STRESS_LIMITS.maxConnections,
  });
}

/** A promise that resolves once `handBack` is called: the drain's early end. */
function handBackSignal(): { handedBack: Promise<'handed back'>; handBack: () => void } {
  let handBack!: () => void;
  const handedBack = new Promise<'handed back'>((resolve) => (handBack = () => resolve('handed back')));
  return { handedBack, handBack };
}

/**
 * Stops taking jobs and waits for the running ones, until they finish, `handedBack` resolves or
 * `timeoutMs` passes; what is still running then is aborted and handed back to the queue.
 */
async function drain(
  workers: QueueWorker[],
  handedBack: Promise<'handed back'>,
  timeoutMs: number,
  running: Set<string>,
  log: Logger,
): Promise<void> {
  const closed = Promise.all(workers.map((worker) => worker.close()));
  let timer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    closed.then(() => 'drained' as const),
    handedBack,
    new Promise<'timed out'>((resolve) => {
      timer = setTimeout(() => resolve('timed out'), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (drained !== 'drained') {
    log.warn({ running: [...running], drain: drained }, 'handing running tests back to the queue');
    for (const worker of workers) worker.cancelAllJobs(AbortReasons.SHUTDOWN);
    await closed;
  }
}

type Processor = ReturnType<typeof processorFor>;

/**
 * The processor of one queue's consumer. A job of a type that belongs to another queue (one
 * enqueued by an api from before that queue existed) is moved there, same job id, and not run:
 * an ordinary worker never starts a browser.
 */
function consumerOf(
  name: TestQueueName,
  processor: Processor,
  queues: Backplane['queue'],
  log: Logger,
): Processor {
  return async (job, token, signal) => {
    const home = queueNameOf(job.data.testType);
    if (home === name) return processor(job, token, signal);
    await queues.named(home).add(job.name, job.data, { ...job.opts, jobId: job.id });
    log.warn({ testId: job.data.testId, from: name, to: home }, 'moved a job to its own queue');
    return { testId: job.data.testId, status: 'skipped' };
  };
}

/** Monitor runs: their own queue and slots; after each attempt the run settles its monitor's state. */
function startMonitorConsumer(
  deps: TestWorkerDeps,
  processor: Processor,
  settle: (testId: string) => Promise<unknown>,
  lockDuration: number,
  log: Logger,
): QueueWorker {
  const monitorWorker = deps.backplane.createWorker<ProcessOutcome>(
    async (job, token, signal) => {
      try {
        return await processor(job, token, signal);
      } finally {
        await settle(job.data.testId).catch((err: unknown) =>
          log.warn({ err, testId: job.data.testId }, 'could not settle a monitor run'),
        );
      }
    },
    {
      queue: MONITOR_QUEUE_NAME,
      concurrency: deps.monitorConcurrency ?? 5,
      lockDuration,
      stalledInterval: deps.stalledIntervalMs ?? Math.min(15_000, lockDuration),
      maxStalledCount: 2,
    },
  );
  watchWorker(monitorWorker, log);
  return monitorWorker;
}

/**
 * The consumer of sharded stress tests' shards, on every worker that consumes `tests` (and has the
 * shard engine). Its own queue and slots: shards never wait behind the tests whose shards they are.
 */
function startShardConsumer(
  deps: TestWorkerDeps,
  parts: { id: string; registry: WorkerRegistry; local: LocalShards; log: Logger; lockDuration: number },
): QueueWorker | undefined {
  const engine = (deps.engines ?? defaultEngines).stressShard;
  if (!engine || !(deps.queues ?? TEST_QUEUE_NAMES).includes(TestQueueNames.TESTS)) return undefined;
  const worker = deps.backplane.createWorker<ShardOutcome, StressShardJobData>(
    createShardProcessor({
      engine,
      pubsub: deps.backplane.pubsub,
      workerId: parts.id,
      registry: parts.registry,
      local: parts.local,
      logger: parts.log,
    }),
    {
      queue: STRESS_SHARD_QUEUE_NAME,
      concurrency: deps.shardConcurrency ?? DEFAULT_STRESS_LIMITS.maxShards!,
      lockDuration: parts.lockDuration,
      stalledInterval: deps.stalledIntervalMs ?? Math.min(15_000, parts.lockDuration),
      // A shard whose worker is lost is replaced by its test, on the test's clock: never re-run.
      maxStalledCount: 0,
    },
  );
  watchWorker(worker as unknown as QueueWorker, parts.log);
  return worker as unknown as QueueWorker;
}

/** Jobs run at once from each queue consumed. */
function slotsOf(deps: TestWorkerDeps): Partial<Record<TestQueueName, number>> {
  const concurrency: Record<TestQueueName, number> = {
    [TestQueueNames.TESTS]: deps.concurrency ?? 5,
    [TestQueueNames.BROWSER]: deps.browserConcurrency ?? 1,
  };
  return Object.fromEntries((deps.queues ?? TEST_QUEUE_NAMES).map((name) => [name, concurrency[name]]));
}

/** The outbox's dispatcher of this worker process, if it sends notifications. */
function startNotifier(deps: TestWorkerDeps, log: Logger): NotifyDispatcher | undefined {
  if (!deps.notifications) return undefined;
  const { settings, egress, ...timing } = deps.notifications;
  return new NotifyDispatcher({
    db: deps.db.kysely,
    egress,
    settings,
    eventLog: deps.backplane.eventLog,
    log,
    ...timing,
  }).start();
}

/**
 * Alert rules, judged as monitor runs settle, and incidents' reminders: on when the worker sends
 * notifications, since what they write is for its dispatcher.
 */
function alertsOf(deps: TestWorkerDeps, log: Logger) {
  if (!deps.notifications) return undefined;
  const notify = {
    retryForMs: deps.notifications.settings.retryHours * 3_600_000,
    groupWaitMs: deps.notifications.settings.alertGroupWaitMs,
  };
  return {
    evaluate: createAlertEvaluator({ notify, logger: log }),
    startReminders: () => startReminderSweep({ db: deps.db, notify, logger: log }),
  };
}

/** What settles a finished monitor run: its monitor's state, and its alert rules judged in the same transaction. */
function settlerOf(
  deps: TestWorkerDeps,
  eventLog: EventLog,
  log: Logger,
  alerts: ReturnType<typeof alertsOf>,
) {
  return createRunSettler({
    monitors: new MonitorsRepository(deps.db.kysely),
    eventLog,
    logger: log,
    evaluateAlerts: alerts?.evaluate,
  });
}

/** The outbox's dispatcher and the incidents' reminder sweep of this process, closed together. */
function startOutbox(deps: TestWorkerDeps, log: Logger, alerts: ReturnType<typeof alertsOf>) {
  const notifier = startNotifier(deps, log);
  const reminders = alerts?.startReminders();
  return {
    async close() {
      await reminders?.close();
      await notifier?.close();
    },
  };
}

/**
 * The BullMQ consumers of the queues it is given, with one cancel listener, heartbeat and
 * reconciler for them all.
 */
export function createTestWorker(deps: TestWorkerDeps): TestWorker {
  const id = randomUUID();
  const log = deps.logger.child({ worker: id });
  const slots = slotsOf(deps);
  const lockDuration = deps.lockDurationMs ?? 30_000;
  const attempts = new TestAttemptsRepository(deps.db.kysely);
  const { queue, pubsub } = deps.backplane;
  const eventLog = deps.cache
    ? invalidatingEventLog(deps.backplane.eventLog, deps.cache)
    : deps.backplane.eventLog;
  const registry = new WorkerRegistry(deps.backplane.presence);
  const waitingTurn = new TestDispatchRepository(deps.db.kysely);
  const status = new QueueStatusPublisher({
    read: () => readQueueCounts(queue, registry, () => waitingTurn.countWaiting()),
    eventLog,
    onError: (err) => log.warn({ err }, 'could not publish the queue status'),
  });
  const running = new Set<string>();
  const limits = limitsOf(deps);
  // One dispatcher per queue consumed: each fills its queue's free slots with its queue's tests.
  const dispatchers = (Object.entries(slots) as [TestQueueName, number][]).map(([queueName, concurrency]) =>
    startDispatcher(deps, {
      queueName,
      registry,
      concurrency,
      log,
      limits,
      onReleased: () => status.notify(),
    }),
  );
  const nudge = () => dispatchers.forEach((dispatcher) => dispatcher.nudge());

  const processor = processorFor(deps, limits, attempts, eventLog, log, running, () => {
    status.notify();
    // A test that starts or ends here changes what is free.
    nudge();
  });
  const consumers = new Map<TestQueueName, QueueWorker>();
  for (const [name, concurrency] of Object.entries(slots) as [TestQueueName, number][]) {
    const worker = deps.backplane.createWorker(consumerOf(name, processor, queue, log), {
      queue: name,
      concurrency,
      lockDuration,
      stalledInterval: deps.stalledIntervalMs ?? Math.min(15_000, lockDuration),
      // A test whose worker is lost runs again, as long as the catalogue's attempts allow.
      maxStalledCount: 2,
    });
    watchWorker(worker, log);
    // A job that leaves the queue (done, failed, put back to wait) frees its slot.
    worker.on('completed', nudge);
    worker.on('failed', nudge);
    consumers.set(name, worker);
  }
  const alerts = alertsOf(deps, log);
  const settle = settlerOf(deps, eventLog, log, alerts);
  const monitorWorker = startMonitorConsumer(deps, processor, settle, lockDuration, log);
  const localShards = new LocalShards();
  const shardWorker = startShardConsumer(deps, { id, registry, local: localShards, log, lockDuration });
  const workers: QueueWorker[] = [
    ...consumers.values(),
    monitorWorker,
    ...(shardWorker ? [shardWorker] : []),
  ];
  const onCancel = cancelListener(workers, localShards, log);

  const outbox = startOutbox(deps, log, alerts);
  const heartbeat = startHeartbeat(registry, { id, slots, running }, deps.heartbeatMs ?? 5_000, log);
  const reconciler = startReconciler(deps, { attempts, eventLog, registry, workerId: id, log });
  const scheduler =
    deps.monitorScheduler === false
      ? undefined
      : createMonitorScheduler({
          ...deps.monitorScheduler,
          db: deps.db,
          queue: deps.backplane.monitorQueue,
          eventLog,
          logger: log,
        });

  const ready = (async () => {
    await pubsub.subscribe(CANCEL_TOPIC, onCancel);
    await Promise.all(workers.map((worker) => worker.waitUntilReady()));
    await heartbeat.beat();
    await Promise.all(dispatchers.map((dispatcher) => dispatcher.start()));
  })();
  ready.catch((err: unknown) => log.error({ err }, 'worker failed to start'));

  let closing: Promise<void> | undefined;
  const { handedBack, handBack } = handBackSignal();
  return {
    consumers,
    monitorWorker,
    ...(scheduler ? { scheduler } : {}),
    ready,
    reconcile: reconciler.reconcile,
    dispatch: async () =>
      (await Promise.all(dispatchers.map((dispatcher) => dispatcher.pass()))).reduce((a, b) => a + b, 0),
    runningCount: () => running.size,
    handBack,
    close() {
      closing ??= (async () => {
        clearInterval(reconciler.timer);
        // Nothing more is released from here: the other workers' dispatchers take over.
        await Promise.all(dispatchers.map((dispatcher) => dispatcher.close()));
        await scheduler?.close();
        // A send in flight is bounded by its timeout; one cut short is sent again after its lease.
        await outbox.close();
        await drain(workers, handedBack, deps.drainTimeoutMs ?? 20_000, running, log);
        clearInterval(heartbeat.timer);
        status.close();
        await ready.catch(() => undefined);
        await pubsub.unsubscribe(CANCEL_TOPIC, onCancel);
        await registry.leave(id).catch((err: unknown) => log.warn({ err }, 'could not leave the registry'));
      })();
      return closing;
    },
  };
}
