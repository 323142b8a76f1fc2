import type { Logger } from 'pino';
import {
  Channels,
  Events,
  Priority,
  channelName,
  createMessage,
  monitorRun,
  monitorStatus,
  runState,
} from '@crucible/contracts';
import type { DraftMessage, EventLog } from '@crucible/contracts';
import type { MonitorsRepository, TestRow } from '@crucible/db';
import { maintenanceWindowsOf } from './maintenance.js';
import type { AlertEvaluator } from '../alerts/evaluate.js';

/** What one finished run says of its monitor (`runState` of contracts, read from its row). */
export function stateOfRun(row: TestRow) {
  const result = row.result as {
    thresholds?: { op: string; limit: number; actual: number | null; passed: boolean }[];
  } | null;
  return runState({
    status: row.status as 'completed' | 'failed' | 'cancelled',
    verdict: row.verdict,
    retryCount: row.retry_count,
    thresholds: result?.thresholds ?? null,
  });
}

/**
 * After a monitor run's attempt: if the run finished, note what it says on its slot, change the
 * monitor's state when it is the latest finished run and says something new, and announce both
 * on the workspace's channel (`monitor:run`, and `monitor:status` for a change), having judged its
 * alert rules in the same transaction. A run still queued for a retry is left for its next attempt.
 * Inside a maintenance window of the monitor (a run asked for by hand, or one that started before
 * the window opened) the slot is noted but the monitor's state is held, and what its rules decide
 * is recorded with its notifications `suppressed`: nothing alerts during maintenance.
 */
export function createRunSettler(deps: {
  monitors: Pick<MonitorsRepository, 'settleRun'>;
  eventLog: EventLog;
  logger: Logger;
  /** Judges the monitor's alert rules in the settling transaction (incidents and their notifications commit with the run's state). */
  evaluateAlerts?: AlertEvaluator;
}) {
  return async function settle(testId: string): Promise<void> {
    const settled = await deps.monitors.settleRun(
      testId,
      stateOfRun,
      async (monitor, db) => (await maintenanceWindowsOf([monitor.workspace_id], db))(monitor, new Date()),
      deps.evaluateAlerts,
    );
    if (!settled) return;
    const { run, state, change } = settled;
    const workspaceId = run.workspace_id!;
    const channel = channelName(Channels.TEAM, { teamId: workspaceId });
    const messages: DraftMessage[] = [
      createMessage({
        event: Events.MONITOR_RUN,
        channel,
        data: monitorRun({
          monitorId: run.monitor_id!,
          workspaceId,
          scheduledFor: run.scheduled_for!,
          outcome: 'run',
          testId,
          state,
        }),
        priority: Priority.NORMAL,
        userId: run.user_id,
      }),
    ];
    if (change) {
      messages.push(
        createMessage({
          event: Events.MONITOR_STATUS,
          channel,
          data: monitorStatus({
            monitorId: change.monitor.id,
            workspaceId,
            name: change.monitor.name,
            from: change.from,
            to: state,
            testId,
            changedAt: change.monitor.state_changed_at ?? new Date(),
          }),
          priority: Priority.HIGH,
          userId: run.user_id,
        }),
      );
      deps.logger.info(
        { monitorId: change.monitor.id, from: change.from, to: state },
        'monitor state changed',
      );
    }
    await deps.eventLog.publishAll(messages);
  };
}
