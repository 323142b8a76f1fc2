import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { TestQueue } from '@crucible/backplane';
import {
  Channels,
  Events,
  Priority,
  channelName,
  createMessage,
  monitorRun,
  queueJobAdded,
  testJobData,
  testJobOptions,
} from '@crucible/contracts';
import type { DraftMessage, EventLog } from '@crucible/contracts';
import { MonitorsRepository } from '@crucible/db';
import type { ClaimedRun, Db, MonitorRow, SlotPlan } from '@crucible/db';
import { maintenanceWindowsOf } from './maintenance.js';
import { planSlots } from './plan.js';
import type { PlanOptions } from './plan.js';

export interface MonitorSchedulerDeps {
  db: Db;
  /** The monitor runs' queue (`Backplane.monitorQueue`). */
  queue: Pick<TestQueue, 'addBulk'>;
  eventLog: EventLog;
  logger: Logger;
  /** Monitors claimed per transaction. @defaultValue 500 */
  batch?: number;
  /** Longest wait between passes: how soon a new or changed monitor is noticed. @defaultValue 1000 ms */
  maxSleepMs?: number;
  /** Missed slots recorded per monitor and pass. @defaultValue 1000 */
  maxMissed?: number;
  /** A slot due at most this long ago still runs, late; older ones are `missed`. @defaultValue 5000 ms */
  lateGraceMs?: number;
  /** Whether a maintenance window of the monitor is open at a time. @defaultValue by the workspaces' `maintenance_windows` */
  inMaintenance?: (workspaceIds: string[], db: Db['kysely']) => Promise<PlanOptions['inMaintenance']>;
}

export interface MonitorScheduler {
  /** One pass now: claims what is due, returns how many monitors it claimed. */
  tick(): Promise<number>;
  /** Stops the loop; resolves once a pass under way is done. */
  close(): Promise<void>;
}

const team = (workspaceId: string) => channelName(Channels.TEAM, { teamId: workspaceId });

/**
 * The scheduler of monitors, one per worker process: a loop that claims due slots in PostgreSQL
 * (`FOR UPDATE SKIP LOCKED` on the monitors' rows, so schedulers of every process share the work
 * and never claim a monitor at once; the slot keys make a second claim impossible anyway), writes
 * each run's test in the claim's transaction, then announces and enqueues the runs on the
 * monitors' queue. A run whose job could not be added is still a `queued` row: the reconciler
 * adds it. It sleeps until the earliest next slot, at most `maxSleepMs`.
 */
export function createMonitorScheduler(deps: MonitorSchedulerDeps): MonitorScheduler {
  const log = deps.logger.child({ component: 'monitor-scheduler' });
  const batch = deps.batch ?? 500;
  const maxSleepMs = deps.maxSleepMs ?? 1_000;
  const maxMissed = deps.maxMissed ?? 1_000;
  const lateGraceMs = deps.lateGraceMs ?? 5_000;
  const windowsOf = deps.inMaintenance ?? maintenanceWindowsOf;

  async function claim(): Promise<{ plans: SlotPlan[]; runs: ClaimedRun[] }> {
    return deps.db.kysely.transaction().execute(async (trx) => {
      const monitors = new MonitorsRepository(trx);
      const { now, due } = await monitors.lockDue(batch);
      if (due.length === 0) return { plans: [], runs: [] };
      const inMaintenance = await windowsOf([...new Set(due.map((m) => m.workspace_id))], trx);
      const previous = await monitors.previousRuns(due.filter((m) => m.baseline === 'previous').map((m) => m.id));
      const plans = due.map((m): SlotPlan => ({
        ...planSlots(m, now, { maxMissed, lateGraceMs, inMaintenance }),
        baseline: m.baseline === 'previous' ? (previous.get(m.id) ?? null) : m.baseline,
      }));
      return { plans, runs: await monitors.recordPlans(plans, randomUUID) };
    });
  }

  function announcements(plans: SlotPlan[], runs: ClaimedRun[]): DraftMessage[] {
    const added = runs.map(({ row }) =>
      createMessage({
        event: Events.QUEUE_JOB_ADDED,
        channel: channelName(Channels.JOB_STATUS, { jobId: row.test_id }),
        data: queueJobAdded({ testId: row.test_id, testType: row.test_type, priority: row.priority, queuePosition: null }),
        priority: Priority.HIGH,
        userId: row.user_id,
      }),
    );
    const unrun = (m: MonitorRow, at: Date, outcome: 'missed' | 'skipped', reason: string | null) =>
      createMessage({
        event: Events.MONITOR_RUN,
        channel: team(m.workspace_id),
        data: monitorRun({ monitorId: m.id, workspaceId: m.workspace_id, scheduledFor: at, outcome, reason }),
        priority: Priority.NORMAL,
        userId: m.created_by,
      });
    const slots = plans.flatMap((p) => [
      ...p.missed.map((at) => unrun(p.monitor, at, 'missed', null)),
      ...p.skipped.map((s) => unrun(p.monitor, s.at, 'skipped', s.reason)),
    ]);
    return [...added, ...slots];
  }

  async function tick(): Promise<number> {
    const { plans, runs } = await claim();
    if (plans.length === 0) return 0;
    const messages = announcements(plans, runs);
    // Announced before the jobs are in, as for any test: queue:job:started never precedes it.
    if (messages.length > 0) {
      await deps.eventLog
        .publishAll(messages, { created: true })
        .catch((err: unknown) => log.warn({ err }, 'could not announce monitor runs'));
    }
    if (runs.length > 0) {
      await deps.queue
        .addBulk(
          runs.map(({ row }) => ({
            name: row.test_type,
            data: testJobData(row),
            opts: testJobOptions(row.test_type, row.test_id, row.run, row.priority),
          })),
        )
        .catch((err: unknown) =>
          log.warn({ err, runs: runs.length }, 'could not enqueue monitor runs; the reconciler will'),
        );
    }
    return plans.length;
  }

  /** Milliseconds until the earliest enabled monitor is due, by the database's clock. */
  async function untilNextDue(): Promise<number> {
    const row = await deps.db.kysely
      .selectFrom('monitors')
      .select((eb) => eb.fn.min('next_run_at').as('next'))
      .where('enabled', '=', true)
      .executeTakeFirst();
    const next = row?.next ? new Date(row.next as Date).getTime() : Infinity;
    const { now } = (
      await deps.db.kysely.selectNoFrom((eb) => eb.fn<Date>('now', []).as('now')).executeTakeFirstOrThrow()
    );
    return next - new Date(now).getTime();
  }

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopped) {
      let waitMs = maxSleepMs;
      try {
        const claimed = await tick();
        waitMs = claimed >= batch ? 0 : Math.min(maxSleepMs, Math.max(5, await untilNextDue()));
      } catch (err) {
        log.warn({ err }, 'monitor scheduling pass failed');
      }
      if (stopped) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, waitMs);
      });
    }
  })();

  return {
    tick,
    async close() {
      stopped = true;
      clearTimeout(timer);
      wake?.();
      await loop;
    },
  };
}
