import type { MonitorSchedule } from '@crucible/contracts';
import type { MonitorRow, SlotPlan } from '@crucible/db';
import { slotAfter, slotsBetween } from '@crucible/runtime';

/** A monitor's schedule as its row holds it. */
export function scheduleOf(m: Pick<MonitorRow, 'every_seconds' | 'cron' | 'timezone'>): MonitorSchedule {
  return m.every_seconds !== null
    ? { everySeconds: m.every_seconds }
    : { cron: m.cron!, ...(m.timezone ? { timezone: m.timezone } : {}) };
}

export interface PlanOptions {
  /** Missed slots recorded per monitor and pass (the latest ones): a week away at 1 s is not 600,000 rows. */
  maxMissed: number;
  /** A slot this recent still runs, late: a busy machine's late pass is not an outage. */
  lateGraceMs: number;
  /** Whether a maintenance window of the monitor is open at `at`. */
  inMaintenance: (monitor: MonitorRow, at: Date) => boolean;
}

/**
 * What a due monitor owes at `now`: every slot from its `next_run_at` to now. The latest one runs,
 * and so does any other within `lateGraceMs` (a pass delayed by a busy machine runs its slots
 * late); older ones fell in a time when no scheduler was up and are recorded as `missed`, never
 * run late in a burst. A slot inside a maintenance window is `skipped` instead. The next slot is
 * the first after `now`.
 */
export function planSlots(monitor: MonitorRow, now: Date, options: PlanOptions): Omit<SlotPlan, 'baseline'> {
  const schedule = scheduleOf(monitor);
  const from = monitor.next_run_at ?? now;
  const slots = slotsBetween(schedule, from, now, options.maxMissed + 1);
  const plan: Omit<SlotPlan, 'baseline'> = { monitor, runs: [], missed: [], skipped: [], next: slotAfter(schedule, now) };
  const lateSince = now.getTime() - options.lateGraceMs;
  slots.forEach((at, i) => {
    if (options.inMaintenance(monitor, at)) plan.skipped.push({ at, reason: 'maintenance' });
    else if (i === slots.length - 1 || at.getTime() >= lateSince) plan.runs.push(at);
    else plan.missed.push(at);
  });
  return plan;
}
