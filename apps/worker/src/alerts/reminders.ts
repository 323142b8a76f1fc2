import type { Logger } from 'pino';
import { IncidentsRepository } from '@crucible/db';
import type { Db } from '@crucible/db';
import { notifyIncident } from '@crucible/notify';
import type { IncidentNotifyOptions } from '@crucible/notify';

export interface ReminderSweepDeps {
  db: Db;
  notify: IncidentNotifyOptions;
  logger: Logger;
  /** How often it looks for due reminders. @defaultValue 5_000 */
  intervalMs?: number;
  /** Reminders sent per transaction. @defaultValue 50 */
  batch?: number;
}

/**
 * Every worker process sweeps for open incidents whose reminder is due: in one transaction it locks
 * a batch (`FOR UPDATE SKIP LOCKED`: sweeps elsewhere take the others, none sends one twice), writes
 * each `incident.reminder` into the outbox and moves the next reminder on. An acknowledged or
 * resolved incident has no next reminder.
 */
export function startReminderSweep(deps: ReminderSweepDeps) {
  const intervalMs = deps.intervalMs ?? 5_000;
  const batch = deps.batch ?? 50;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let closed = false;

  async function sweep(): Promise<number> {
    return deps.db.kysely.transaction().execute(async (trx) => {
      const incidents = new IncidentsRepository(trx);
      const due = await incidents.dueReminders(batch);
      for (const incident of due) {
        const reminded = await incidents.reminded(incident.id, incident.remind_every_minutes);
        await notifyIncident(trx, reminded, 'incident.reminder', deps.notify);
      }
      return due.length;
    });
  }

  function pass(): Promise<number> {
    running ??= sweep()
      .catch((err: unknown) => {
        deps.logger.warn({ err }, 'could not send incident reminders');
        return 0;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  async function tick(): Promise<void> {
    const sent = await pass();
    if (closed) return;
    // A full batch: more may be due at once.
    timer = setTimeout(() => void tick(), sent === batch ? 0 : intervalMs);
    timer.unref?.();
  }
  timer = setTimeout(() => void tick(), intervalMs);
  timer.unref?.();

  return {
    /** One sweep now; resolves to the reminders sent. */
    pass,
    async close(): Promise<void> {
      closed = true;
      clearTimeout(timer);
      await running;
    },
  };
}

export type ReminderSweep = ReturnType<typeof startReminderSweep>;
