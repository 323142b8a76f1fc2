import { Channels, Priority, channelName, createMessage, userNotification } from '@crucible/contracts';
import type {
  EventLog,
  PresenceStore,
  Severity,
  SystemAlertEventType,
  SystemAlertKind,
} from '@crucible/contracts';
import { WorkerRegistry } from '@crucible/backplane';
import { NotificationChannelsRepository, SystemAlertsRepository, TestDispatchRepository } from '@crucible/db';
import type { Db, NotificationRow, SystemAlertRow } from '@crucible/db';
import { GONE_REASON_PREFIX, notifySystemAlert, systemAlertOf } from '@crucible/notify';

/** When the platform's own conditions are alerts (DESIGN.md, "System alerts"). */
export interface SystemAlertSettings {
  /** How often each api process looks (`SYSTEM_ALERT_CHECK_SECONDS`). @defaultValue 5_000 */
  checkMs: number;
  /** No worker beating for this long is an alert (`SYSTEM_ALERT_WORKER_SILENCE_SECONDS`). @defaultValue 60_000 */
  workerSilenceMs: number;
  /** The queue's oldest waiting test older than this is an alert (`ALERT_QUEUE_AGE_SECONDS`). @defaultValue 300_000 */
  queueAgeMs: number;
  /** A channel whose every attempt failed for this long is an alert (`SYSTEM_ALERT_CHANNEL_FAILING_SECONDS`). @defaultValue 3_600_000 */
  channelFailingMs: number;
}

export const SYSTEM_ALERT_DEFAULTS: SystemAlertSettings = {
  checkMs: 5_000,
  workerSilenceMs: 60_000,
  queueAgeMs: 300_000,
  channelFailingMs: 3_600_000,
};

export interface SystemAlertCheckDeps {
  db: Db;
  /** Where workers announce themselves (the backplane's presence store). */
  presence: PresenceStore;
  /** Where `system:alert` and `user:notification` go out. */
  eventLog: Pick<EventLog, 'publish'>;
  settings: SystemAlertSettings;
  /** How long the alerts' deliveries are retried (`NOTIFY_RETRY_HOURS`). */
  retryForMs: number;
  log: { warn(obj: object, msg: string): void };
}

/** A condition seen to hold now. */
interface Observed {
  key: string;
  kind: SystemAlertKind;
  severity: Severity;
  title: string;
  message: string;
  details: Record<string, unknown>;
  ownerId: string | null;
  /** When it began. */
  since: Date;
  /** How long it must have held before it is told. */
  holdMs: number;
}

/** What a check changed, to be published once committed. */
interface Change {
  row: SystemAlertRow;
  notifications: NotificationRow[];
}

const span = (ms: number) => {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  const m = Math.round(s / 60);
  return m < 120 ? `${m} min` : `${Math.round(m / 60)} h`;
};

/** Each kind's look at the platform; a look that fails (Redis down) leaves that kind's alerts as they are. */
function looks(
  deps: SystemAlertCheckDeps,
  trx: Db['kysely'],
): Record<SystemAlertKind, () => Promise<Observed[]>> {
  const { settings } = deps;
  const registry = new WorkerRegistry(deps.presence);
  const channels = new NotificationChannelsRepository(trx);
  return {
    'workers-silent': async () => {
      const { live, lastBeatAt } = await registry.silence();
      if (live > 0) return [];
      const since = new Date(lastBeatAt ?? Date.now());
      return [
        {
          key: 'workers-silent',
          kind: 'workers-silent',
          severity: 'critical',
          title: `No live worker for ${span(settings.workerSilenceMs)}`,
          message:
            `No worker process has announced itself since ${since.toISOString()}: tests and monitor runs ` +
            'wait, and notifications other than system alerts wait in the outbox until a worker is back.',
          details: { lastBeatAt: lastBeatAt === null ? null : since.toISOString() },
          ownerId: null,
          since,
          holdMs: settings.workerSilenceMs,
        },
      ];
    },
    'queue-backlog': async () => {
      const oldest = await new TestDispatchRepository(trx).oldestWaiting();
      if (!oldest || Date.now() - oldest.createdAt.getTime() < settings.queueAgeMs) return [];
      return [
        {
          key: 'queue-backlog',
          kind: 'queue-backlog',
          severity: 'warning',
          title: `The queue's oldest test has waited over ${span(settings.queueAgeMs)}`,
          message: `Test ${oldest.testId} has waited since ${oldest.createdAt.toISOString()}; ${oldest.waiting} tests wait in all.`,
          details: {
            oldestTestId: oldest.testId,
            waitingSince: oldest.createdAt.toISOString(),
            waiting: oldest.waiting,
          },
          ownerId: null,
          since: new Date(oldest.createdAt.getTime() + settings.queueAgeMs),
          holdMs: 0,
        },
      ];
    },
    'channel-failing': async () =>
      (await channels.failing())
        .filter((c) => Date.now() - c.failingSince.getTime() >= settings.channelFailingMs)
        .map((c) => ({
          key: `channel-failing:${c.channelId}`,
          kind: 'channel-failing' as const,
          severity: 'warning' as const,
          title: `Notification channel "${c.channelName}" has failed for over ${span(settings.channelFailingMs)}`,
          message: `Every attempt to reach it since ${c.failingSince.toISOString()} failed; the latest: ${c.lastError ?? 'no answer'}.`,
          details: {
            channelId: c.channelId,
            channelName: c.channelName,
            channelType: c.channelType,
            workspaceId: c.workspaceId,
            failingSince: c.failingSince.toISOString(),
            lastError: c.lastError,
            lastResponseStatus: c.lastResponseStatus,
          },
          ownerId: null,
          since: new Date(c.failingSince.getTime() + settings.channelFailingMs),
          holdMs: 0,
        })),
    'channel-gone': async () =>
      (await channels.disabledFor(GONE_REASON_PREFIX)).map((c) => ({
        key: `channel-gone:${c.id}`,
        kind: 'channel-gone' as const,
        severity: 'warning' as const,
        title: `Notification channel "${c.name}" was disabled: its receiver answered 410 Gone`,
        message:
          `${c.disabled_reason}. Nothing more is sent to it until it is enabled again ` +
          `(PATCH /api/notification-channels/${c.id} {"enabled": true}).`,
        details: { channelId: c.id, channelName: c.name, channelType: c.type, workspaceId: c.workspace_id },
        ownerId: c.created_by,
        since: c.updated_at,
        holdMs: 0,
      })),
  };
}

/** Tells the dashboards (`system:alert`) and each recipient's bell (`user:notification`) of what a check committed. */
async function publish(deps: SystemAlertCheckDeps, changes: Change[]): Promise<void> {
  for (const { row, notifications } of changes) {
    const data = systemAlertOf(row);
    await deps.eventLog
      .publish(
        createMessage({
          event: 'system:alert',
          channel: Channels.SYSTEM_ALERTS,
          data,
          priority: Priority.HIGH,
          userId: null,
        }),
      )
      .catch((err: unknown) => deps.log.warn({ err }, 'could not publish a system alert'));
    for (const n of notifications) {
      await deps.eventLog
        .publish(
          createMessage({
            event: 'user:notification',
            channel: channelName(Channels.USER_NOTIFICATIONS, { userId: n.user_id }),
            data: userNotification({
              id: n.id,
              workspaceId: n.workspace_id,
              title: n.title,
              body: n.body,
              severity: n.severity,
              incidentId: n.incident_id,
              createdAt: n.created_at,
              readAt: n.read_at,
            }),
            priority: Priority.HIGH,
            userId: n.user_id,
          }),
        )
        .catch((err: unknown) => deps.log.warn({ err }, 'could not push a notification'));
    }
  }
}

/**
 * The system alerts' check, run by every api process every `checkMs` (DESIGN.md, "System alerts").
 * One check at a time across processes (a transaction-scoped advisory lock taken with try: a busy
 * lock means another process is checking now); inside it, each condition seen starts an alert (or
 * a pending one, for a condition that must last), each alert whose condition ended is resolved,
 * and each such change writes its notifications into the outbox in the same transaction. Published
 * (`system:alert`, `user:notification`) once committed.
 */
export function startSystemAlertCheck(deps: SystemAlertCheckDeps) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let closed = false;

  async function tell(trx: Db['kysely'], row: SystemAlertRow, type: SystemAlertEventType): Promise<Change> {
    return { row, notifications: await notifySystemAlert(trx, row, type, { retryForMs: deps.retryForMs }) };
  }

  async function check(): Promise<Change[]> {
    return deps.db.kysely.transaction().execute(async (trx) => {
      const alerts = new SystemAlertsRepository(trx);
      if (!(await alerts.lockChecks())) return [];
      const seen = new Map<SystemAlertKind, Observed[]>();
      for (const [kind, look] of Object.entries(looks(deps, trx)) as [
        SystemAlertKind,
        () => Promise<Observed[]>,
      ][]) {
        try {
          seen.set(kind, await look());
        } catch (err) {
          deps.log.warn({ err, kind }, 'could not check a system alert condition');
        }
      }
      const unresolved = await alerts.unresolved();
      const changes: Change[] = [];
      const now = Date.now();
      for (const o of [...seen.values()].flat()) {
        const current = unresolved.find((a) => a.key === o.key);
        if (!current) {
          const row = await alerts.open({
            ...o,
            startedAt: o.since,
            fired: now - o.since.getTime() >= o.holdMs,
          });
          if (row?.fired_at) changes.push(await tell(trx, row, 'system.alert.firing'));
        } else if (!current.fired_at && now - current.started_at.getTime() >= o.holdMs) {
          const row = await alerts.fire(current.id, o);
          if (row) changes.push(await tell(trx, row, 'system.alert.firing'));
        }
      }
      for (const a of unresolved) {
        const observed = seen.get(a.kind);
        if (!observed || observed.some((o) => o.key === a.key)) continue;
        if (!a.fired_at) {
          await alerts.forget(a.id);
          continue;
        }
        const row = await alerts.resolve(a.id);
        if (row) changes.push(await tell(trx, row, 'system.alert.resolved'));
      }
      return changes;
    });
  }

  function pass(): Promise<number> {
    running ??= check()
      .then(async (changes) => {
        await publish(deps, changes);
        return changes.length;
      })
      .catch((err: unknown) => {
        deps.log.warn({ err }, 'could not check system alerts');
        return 0;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  async function tick(): Promise<void> {
    await pass();
    if (closed) return;
    timer = setTimeout(() => void tick(), deps.settings.checkMs);
    timer.unref?.();
  }
  timer = setTimeout(() => void tick(), deps.settings.checkMs);
  timer.unref?.();

  return {
    /** One check now; resolves to the alerts that changed state. */
    pass,
    async close(): Promise<void> {
      closed = true;
      clearTimeout(timer);
      await running;
    },
  };
}

export type SystemAlertCheck = ReturnType<typeof startSystemAlertCheck>;
