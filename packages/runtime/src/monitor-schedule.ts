import { CronExpressionParser } from 'cron-parser';
import type { MonitorSchedule } from '@crucible/contracts';

/** Thrown by {@link checkSchedule}; `message` says what is wrong, naming the field. */
export class InvalidScheduleError extends Error {
  readonly code = 'INVALID_SCHEDULE';
}

/** Whether `zone` is an IANA time zone this runtime knows (`Europe/Paris`, `UTC`). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * A schedule a monitor may have: `everySeconds` at least `minIntervalSeconds`, or a standard
 * 5-field cron expression (minute hour day-of-month month day-of-week; no seconds field, no
 * macros) in an IANA time zone.
 */
export function checkSchedule(schedule: MonitorSchedule, minIntervalSeconds: number): void {
  if ('everySeconds' in schedule) {
    if (!Number.isInteger(schedule.everySeconds) || schedule.everySeconds < minIntervalSeconds) {
      throw new InvalidScheduleError(`schedule.everySeconds must be >= ${minIntervalSeconds}`);
    }
    return;
  }
  if (schedule.timezone !== undefined && !isTimeZone(schedule.timezone)) {
    throw new InvalidScheduleError(`schedule.timezone: ${schedule.timezone} is not an IANA time zone`);
  }
  const fields = schedule.cron.trim().split(/\s+/);
  if (fields.length !== 5) {
    throw new InvalidScheduleError(
      `schedule.cron must have 5 fields (minute hour day-of-month month day-of-week); it has ${fields.length}`,
    );
  }
  try {
    CronExpressionParser.parse(fields.join(' '), { tz: schedule.timezone ?? 'UTC', strict: false });
  } catch (err) {
    throw new InvalidScheduleError(`schedule.cron: ${(err as Error).message}`, { cause: err });
  }
}

/** The first slot at or after `from`. */
export function slotAtOrAfter(schedule: MonitorSchedule, from: Date): Date {
  if ('everySeconds' in schedule) {
    // Slots are aligned to the Unix epoch: every process computes the same ones.
    const step = schedule.everySeconds * 1000;
    return new Date(Math.ceil(from.getTime() / step) * step);
  }
  const cron = CronExpressionParser.parse(schedule.cron.trim(), {
    tz: schedule.timezone ?? 'UTC',
    currentDate: new Date(from.getTime() - 1),
  });
  return cron.next().toDate();
}

/** The first slot strictly after `after`: where a resumed or rescheduled monitor starts, with no catch-up. */
export function slotAfter(schedule: MonitorSchedule, after: Date): Date {
  return slotAtOrAfter(schedule, new Date(after.getTime() + 1));
}

/**
 * The slots from `from` to `until`, both included, at most `max` of them (the latest ones):
 * what a scheduler that was away owes, the last of which it runs.
 */
export function slotsBetween(schedule: MonitorSchedule, from: Date, until: Date, max: number): Date[] {
  const slots: Date[] = [];
  for (let slot = slotAtOrAfter(schedule, from); slot <= until; slot = slotAfter(schedule, slot)) {
    slots.push(slot);
    if (slots.length > max) slots.shift();
  }
  return slots;
}
