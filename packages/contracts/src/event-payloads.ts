import type { TestType, Verdict } from './catalog.js';
import type { Events } from './events.js';
import type { MonitorState, SlotOutcome } from './monitors.js';
import type { QueueCounts } from './queue.js';
import type { UserNotificationData } from './notifications.js';
import type { SystemAlertData } from './system-alerts.js';
import type { WorkspaceRole } from './workspaces.js';

// The `data` of each event (DESIGN.md, "Event payloads"). `createMessage` takes the payload of its
// event, so a publisher that sends a wrong shape does not compile; consumers narrow an
// `EventMessage` on `event` and read typed `data`. On job channels `jobId` is the test's id.

/** `test:started` on `test-progress-{testId}`: an attempt began running. */
export interface TestStartedData {
  testId: string;
  testType: TestType;
  url: string;
  status: 'running';
  /** 1 for the first attempt. */
  attempt: number;
}

/**
 * `test:progress`: on `test-progress-{testId}` the progress (0–100) and stage with the engine's
 * own figures beside them; on `stress-test-{testId}` a stress test's live load figures, once a second.
 */
export interface TestProgressData {
  testId: string;
  progress?: number;
  stage?: string;
  /** Engine-specific figures (requests, latencies, the page being analysed…). */
  [figure: string]: unknown;
}

/** `test:completed` on `test-progress-{testId}`: the engine produced a result. */
export interface TestCompletedData {
  testId: string;
  status: 'completed';
  verdict: Verdict;
  progress: 100;
  /** The result's summary, shaped per test type (the catalogue's result schemas). */
  summary: unknown;
}

/** `test:failed` on `test-progress-{testId}`: no result, and no attempt left. */
export interface TestFailedData {
  testId: string;
  status: 'failed';
  error: string;
}

/** `test:cancelled` on `test-progress-{testId}`. */
export interface TestCancelledData {
  testId: string;
  status: 'cancelled';
}

/** `queue:job:added` on `job-status-{jobId}`: accepted, retried, or handed back to the queue. Built by {@link queueJobAdded}. */
export interface QueueJobAddedData {
  jobId: string;
  testId: string;
  testType: TestType;
  /** The test's priority (0–10); absent when a worker hands the job back. */
  priority?: number;
  /** Place among the caller's queued tests; null when unknown. */
  queuePosition: number | null;
  /** Set when a draining worker put the job back without using an attempt. */
  handedBack?: true;
}

/** `queue:job:started` on `job-status-{jobId}`. */
export interface QueueJobStartedData {
  jobId: string;
  testId: string;
  testType: TestType;
}

/** `queue:job:progress` on `job-status-{jobId}`. */
export interface QueueJobProgressData {
  jobId: string;
  testId: string;
  progress: number;
}

/** `queue:job:completed` on `job-status-{jobId}`. */
export interface QueueJobCompletedData {
  jobId: string;
  testId: string;
  status: 'completed';
  verdict: Verdict;
}

/** Why an attempt ended and the test is queued again. */
export type RetryReason = 'error' | 'worker-lost';

/**
 * `queue:job:failed` on `job-status-{jobId}`: the test failed for good, was cancelled, or lost an
 * attempt and is queued again (`willRetry`; the next attempt starts from 0 %). Built by {@link queueJobFailed}.
 */
export type QueueJobFailedData =
  | { jobId: string; testId: string; status: 'failed'; error: string; willRetry: false }
  | { jobId: string; testId: string; status: 'cancelled'; willRetry: false }
  | {
      jobId: string;
      testId: string;
      status: 'queued';
      error: string;
      reason: RetryReason;
      willRetry: true;
      /** Attempts used so far. */
      retryCount: number;
      /** The attempt about to start (`retryCount + 1`). */
      attempt: number;
      maxAttempts: number;
    };

/** `queue:job:waiting` on `job-status-{jobId}`: a queued test waits for something besides a worker. */
export interface QueueJobWaitingData {
  jobId: string;
  testId: string;
  testType: TestType;
  /** Why, in words a user reads (e.g. the workspace's stress connections are in use). */
  waitReason: string;
}

/** `test-record:updated` on `test-history-updates`: a test's record changed (a re-run of it was made). */
export interface TestRecordUpdatedData {
  testId: string;
  /** The re-run just made of this test. */
  rerunBy?: string;
}

/** `test-record:created` / `test-record:deleted` on `test-history-updates`. */
export interface TestRecordData {
  testId: string;
}

/** `user:online` / `user:offline` on `user-activity`. */
export interface UserPresenceData {
  userId: string;
}

/** `connection:established`: the first frame of every socket (not a channel message). */
export interface ConnectionEstablishedData {
  connectionId: string;
  userId: string;
  /** How often the gateway pings. */
  heartbeatMs: number;
}

/**
 * An event nothing publishes yet: its payload is open until its first publisher gives it a type
 * here (system alerts, notifications; the protocol's own ping, pong and error
 * frames stand in for the connection and heartbeat events).
 */
export type UnpublishedData = Record<string, unknown>;

/** A change of a workspace's members, on `team-{workspaceId}`: who, and their role now (none once left). */
export interface WorkspaceMemberData {
  workspaceId: string;
  userId: string;
  role: WorkspaceRole | null;
}

/** A workspace's settings changed (its name), on `team-{workspaceId}`. */
export interface WorkspaceUpdatedData {
  workspaceId: string;
  name: string;
}

/**
 * A public link to one of the workspace's tests was made (`workspace:test:shared`) or revoked
 * (`workspace:test:unshared`), on `team-{workspaceId}`. `shareId` is the share's id among the
 * test's shares, never its public secret.
 */
export interface WorkspaceTestSharedData {
  workspaceId: string;
  testId: string;
  shareId: string;
  /** Who made or revoked it. */
  userId: string;
  expiresAt: string | null;
}

/**
 * `monitor:run` on `team-{workspaceId}`: a slot of a monitor was settled — its run finished
 * (`outcome: 'run'`, with the test and what it says) or the slot was `missed`/`skipped`.
 * Built by {@link monitorRun}.
 */
export interface MonitorRunData {
  monitorId: string;
  workspaceId: string;
  /** The slot's time (ISO 8601); a run made with "run now" has the time it was asked for. */
  scheduledFor: string;
  outcome: SlotOutcome;
  /** The run's test; null for a missed or skipped slot. */
  testId: string | null;
  /** What the run says of the monitor; null for a missed or skipped slot. */
  state: MonitorState | null;
  /** Why a slot was skipped (`maintenance`); null otherwise. */
  reason: string | null;
}

/**
 * `monitor:status` on `team-{workspaceId}`: a monitor's state changed (what alerts fire on).
 * `from` is null for its first finished run. Built by {@link monitorStatus}.
 */
export interface MonitorStatusData {
  monitorId: string;
  workspaceId: string;
  name: string;
  from: MonitorState | null;
  to: MonitorState;
  /** The run that made the change. */
  testId: string;
  /** When the change was recorded (ISO 8601). */
  changedAt: string;
}

/** `monitor:updated` on `team-{workspaceId}`: a monitor was created, changed or deleted. */
export interface MonitorUpdatedData {
  monitorId: string;
  workspaceId: string;
  change: 'created' | 'updated' | 'deleted';
}

/**
 * `system:maintenance:start` on `system-maintenance`: an instance admin announced platform
 * maintenance (again, with a new message or end, while one is under way). Built by {@link systemMaintenanceStart}.
 */
export interface SystemMaintenanceStartData {
  id: string;
  message: string;
  startedAt: string;
  /** When it is expected to end (ISO 8601), if said. */
  until: string | null;
}

/** `system:maintenance:end` on `system-maintenance`: the platform maintenance `id` is over. */
export interface SystemMaintenanceEndData {
  id: string;
  endedAt: string;
}

/** Each event's `data`. */
export interface EventPayloads {
  'test:started': TestStartedData;
  'test:progress': TestProgressData;
  'test:completed': TestCompletedData;
  'test:failed': TestFailedData;
  'test:cancelled': TestCancelledData;
  'queue:job:added': QueueJobAddedData;
  'queue:job:started': QueueJobStartedData;
  'queue:job:progress': QueueJobProgressData;
  'queue:job:completed': QueueJobCompletedData;
  'queue:job:failed': QueueJobFailedData;
  'queue:job:waiting': QueueJobWaitingData;
  'queue:status:updated': QueueCounts;
  'test-record:created': TestRecordData;
  'test-record:updated': TestRecordUpdatedData;
  'test-record:deleted': TestRecordData;
  'system:alert': SystemAlertData;
  'system:maintenance:start': SystemMaintenanceStartData;
  'system:maintenance:end': SystemMaintenanceEndData;
  'user:notification': UserNotificationData;
  'user:online': UserPresenceData;
  'user:offline': UserPresenceData;
  'workspace:member:joined': WorkspaceMemberData;
  'workspace:member:left': WorkspaceMemberData;
  'workspace:member:role-changed': WorkspaceMemberData;
  'workspace:updated': WorkspaceUpdatedData;
  'workspace:test:shared': WorkspaceTestSharedData;
  'workspace:test:unshared': WorkspaceTestSharedData;
  'monitor:run': MonitorRunData;
  'monitor:status': MonitorStatusData;
  'monitor:updated': MonitorUpdatedData;
  'connection:established': ConnectionEstablishedData;
  'connection:error': UnpublishedData;
  'heartbeat:ping': UnpublishedData;
  'heartbeat:pong': UnpublishedData;
}

/** The `data` of event `E`. */
export type EventData<E extends Events> = EventPayloads[E];

/** The builder's input of `queue:job:added`: the test; `jobId` is its id. */
export interface QueueJobAddedInput {
  testId: string;
  testType: TestType;
  priority?: number;
  queuePosition: number | null;
  handedBack?: boolean;
}

/**
 * The one `queue:job:added` payload, whoever queues the test: the API on submit and retry, a
 * draining worker handing the job back.
 */
export function queueJobAdded(input: QueueJobAddedInput): QueueJobAddedData {
  const data: QueueJobAddedData = {
    jobId: input.testId,
    testId: input.testId,
    testType: input.testType,
    queuePosition: input.queuePosition,
  };
  if (input.priority !== undefined) data.priority = input.priority;
  if (input.handedBack) data.handedBack = true;
  return data;
}

/** How a test's attempt ended, for {@link queueJobFailed}. */
export type QueueJobFailure =
  | { status: 'failed'; error: string }
  | { status: 'cancelled' }
  | { status: 'queued'; error: string; reason: RetryReason; retryCount: number; maxAttempts: number };

/**
 * The one `queue:job:failed` payload: failed for good (the worker, the reconciler), cancelled (the
 * API), or queued again after an attempt failed or its worker was lost (the worker).
 */
export function queueJobFailed(testId: string, failure: QueueJobFailure): QueueJobFailedData {
  const ids = { jobId: testId, testId };
  switch (failure.status) {
    case 'failed':
      return { ...ids, status: 'failed', error: failure.error, willRetry: false };
    case 'cancelled':
      return { ...ids, status: 'cancelled', willRetry: false };
    case 'queued':
      return {
        ...ids,
        status: 'queued',
        error: failure.error,
        reason: failure.reason,
        willRetry: true,
        retryCount: failure.retryCount,
        attempt: failure.retryCount + 1,
        maxAttempts: failure.maxAttempts,
      };
  }
}

/** The data of `monitor:run`: one builder for every publisher (scheduler, worker). */
export function monitorRun(input: {
  monitorId: string;
  workspaceId: string;
  scheduledFor: Date;
  outcome: SlotOutcome;
  testId?: string | null;
  state?: MonitorState | null;
  reason?: string | null;
}): MonitorRunData {
  return {
    monitorId: input.monitorId,
    workspaceId: input.workspaceId,
    scheduledFor: input.scheduledFor.toISOString(),
    outcome: input.outcome,
    testId: input.testId ?? null,
    state: input.state ?? null,
    reason: input.reason ?? null,
  };
}

/** The data of `monitor:status`. */
export function monitorStatus(input: {
  monitorId: string;
  workspaceId: string;
  name: string;
  from: MonitorState | null;
  to: MonitorState;
  testId: string;
  changedAt: Date;
}): MonitorStatusData {
  return { ...input, changedAt: input.changedAt.toISOString() };
}

/** The data of `system:maintenance:start`, from the stored maintenance. */
export function systemMaintenanceStart(m: {
  id: string;
  message: string;
  startedAt: Date;
  until: Date | null;
}): SystemMaintenanceStartData {
  return { id: m.id, message: m.message, startedAt: m.startedAt.toISOString(), until: m.until?.toISOString() ?? null };
}
