import { CronExpressionParser } from 'cron-parser';
import { isTimeZone } from './monitor-schedule.js';

/** Thrown by {@link checkMaintenanceWindow}; `message` says what is wrong, naming the field. */
export class InvalidWindowError extends Error {
  readonly code = 'INVALID_WINDOW';
}

/** When a maintenance window is open, as its row holds it: once, or from each cron start for a duration. */
export interface WindowTimes {
  starts_at: Date | null;
  ends_at: Date | null;
  cron: string | null;
  duration_minutes: number | null;
  timezone: string | null;
}

/** Which monitors a window covers: null for every monitor of its workspace. */
export interface WindowScope extends WindowTimes {
  workspace_id: string;
  monitor_ids: string[] | null;
}

/**
 * A window's times as given (`startsAt`–`endsAt`, or `cron` + `durationMinutes` in `timezone`,
 * default UTC), checked and normalised for storage. One kind only; the cron has 5 fields.
 */
export function checkMaintenanceWindow(w: {
  startsAt?: string;
  endsAt?: string;
  cron?: string;
  durationMinutes?: number;
  timezone?: string;
}): WindowTimes {
  const once = w.startsAt !== undefined || w.endsAt !== undefined;
  const recurring = w.cron !== undefined || w.durationMinutes !== undefined || w.timezone !== undefined;
  if (once === recurring) {
    throw new InvalidWindowError(
      'give either startsAt and endsAt, or cron and durationMinutes (and timezone)',
    );
  }
  if (once) {
    if (w.startsAt === undefined || w.endsAt === undefined)
      throw new InvalidWindowError('a one-off window needs both startsAt and endsAt');
    const startsAt = new Date(w.startsAt);
    const endsAt = new Date(w.endsAt);
    if (!(endsAt > startsAt)) throw new InvalidWindowError('endsAt must be after startsAt');
    return { starts_at: startsAt, ends_at: endsAt, cron: null, duration_minutes: null, timezone: null };
  }
  if (w.cron === undefined || w.durationMinutes === undefined)
    throw new InvalidWindowError('a recurring window needs both cron and durationMinutes');
  const timezone = w.timezone ?? 'UTC';
  if (!isTimeZone(timezone)) throw new InvalidWindowError(`timezone: ${timezone} is not an IANA time zone`);
  const fields = w.cron.trim().split(/\s+/);
  if (fields.length !== 5) {
    throw new InvalidWindowError(
      `cron must have 5 fields (minute hour day-of-month month day-of-week); it has ${fields.length}`,
    );
  }
  const cron = fields.join(' ');
  try {
    CronExpressionParser.parse(cron, { tz: timezone, strict: false });
  } catch (err) {
    throw new InvalidWindowError(`cron: ${(err as Error).message}`, { cause: err });
  }
  return { starts_at: null, ends_at: null, cron, duration_minutes: w.durationMinutes, timezone };
}

/**
 * Whether a window is open at `at`: within `[startsAt, endsAt)`, or within `durationMinutes` of the
 * cron's latest start at or before `at` (local time of its zone, as cron-parser follows it across
 * DST). The latest start is enough: an earlier one's window ends no later.
 */
export function windowOpenAt(w: WindowTimes, at: Date): boolean {
  if (w.starts_at && w.ends_at) return w.starts_at <= at && at < w.ends_at;
  if (!w.cron || !w.duration_minutes) return false;
  const cron = CronExpressionParser.parse(w.cron, {
    tz: w.timezone ?? 'UTC',
    currentDate: new Date(at.getTime() + 1),
  });
  const start = cron.prev().toDate();
  return at.getTime() < start.getTime() + w.duration_minutes * 60_000;
}

/** Whether one of `windows` covering the monitor is open at `at`. */
export function inMaintenanceAt(
  windows: readonly WindowScope[],
  monitor: { id: string; workspace_id: string },
  at: Date,
): boolean {
  return windows.some(
    (w) =>
      w.workspace_id === monitor.workspace_id &&
      (w.monitor_ids === null || w.monitor_ids.includes(monitor.id)) &&
      windowOpenAt(w, at),
  );
}
