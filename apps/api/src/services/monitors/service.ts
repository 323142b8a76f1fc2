import { randomUUID } from 'node:crypto';
import type { Backplane } from '@crucible/backplane';
import {
  Channels,
  Events,
  channelName,
  queueJobAdded,
  testJobData,
  testJobOptions,
} from '@crucible/contracts';
import type { MonitorSchedule } from '@crucible/contracts';
import type { MonitorCreate, MonitorDeploy, MonitorUpdate, RunTestBody } from '@crucible/contracts/api';
import type { MonitorChanges, MonitorRow, MonitorsRepository, TestsRepository } from '@crucible/db';
import type { Allowlist } from '@crucible/egress';
import { HttpProblem, notFound } from '../../errors.js';
import type { Publish } from '../tests/events.js';
import type { Actor } from '../workspace-access.js';
import { deployMonitors } from './deploy.js';
import type { DeployOps } from './deploy.js';
import { checkMonitorSchedule, checkTest } from './validation.js';
import { keyMetricOf, toMonitorView, toRunView } from './views.js';

export interface MonitorsServiceDeps {
  monitors: MonitorsRepository;
  tests: Pick<TestsRepository, 'findById' | 'latestCompleted'>;
  queues: Pick<Backplane, 'monitorQueue'>;
  publish: Publish;
  /** Private hosts/ranges tests may target (`TARGET_ALLOWLIST`). @defaultValue none */
  targetAllowlist?: Allowlist;
  /** The shortest `everySeconds` (`MONITOR_MIN_INTERVAL_SECONDS`). @defaultValue 30 */
  minIntervalSeconds?: number;
  /** Whether a maintenance window of the monitor is open now. @defaultValue never */
  inMaintenance?: (monitors: MonitorRow[]) => Promise<Set<string>>;
  log: { warn(obj: object, msg: string): void };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Runs' cursor: the last slot's time, opaque to clients. */
const encodeCursor = (at: Date) => Buffer.from(`m1:${at.toISOString()}`).toString('base64url');
function decodeCursor(cursor: string): Date {
  const match = /^m1:(.+)$/.exec(Buffer.from(cursor, 'base64url').toString());
  const at = match ? new Date(match[1]!) : undefined;
  if (!at || Number.isNaN(at.getTime()))
    throw new HttpProblem(400, 'INVALID_CURSOR', 'Bad Request', 'cursor is not one this API returned');
  return at;
}

/** Two deploys of one file at once: the second's create meets the first's monitor. */
function codeKeyTaken(err: unknown, codeKey: string | null): unknown {
  if ((err as { constraint?: string }).constraint !== 'monitors_code_key_unique') return err;
  const detail = `a monitor with the code key "${codeKey}" was created meanwhile; deploy again`;
  return new HttpProblem(409, 'CODE_KEY_TAKEN', 'Conflict', detail, { cause: err });
}

/** What a deploy does, with the service's own checks and writes. */
function deployOps(
  deps: MonitorsServiceDeps,
  service: Pick<MonitorsService, 'create' | 'update' | 'delete'>,
  actor: Actor,
): DeployOps {
  return {
    check: async (item) => ({
      item,
      ...(await checkTest(deps, actor, item.test)),
      schedule: checkMonitorSchedule(item.schedule as MonitorSchedule, deps.minIntervalSeconds ?? 30),
    }),
    codeMonitors: async () => (await deps.monitors.list(actor.workspaceId)).filter((m) => m.code_key !== null),
    create: ({ item: { codeKey, ...body } }) => service.create(actor, body, codeKey),
    update: (id, fields) => service.update(actor, id, fields),
    delete: (id) => service.delete(actor, id),
  };
}

export function createMonitorsService(deps: MonitorsServiceDeps) {
  const { monitors } = deps;
  const checkedTest = (actor: Actor, body: RunTestBody) => checkTest(deps, actor, body);
  const checkedSchedule = (schedule: MonitorSchedule) => checkMonitorSchedule(schedule, deps.minIntervalSeconds ?? 30);
  const team = (workspaceId: string) => channelName(Channels.TEAM, { teamId: workspaceId });

  async function view(actor: Actor, m: MonitorRow) {
    const [stats, maintenance] = await Promise.all([
      monitors.stats([{ id: m.id, keyMetric: keyMetricOf(m) }]),
      deps.inMaintenance?.([m]) ?? new Set<string>(),
    ]);
    return toMonitorView(m, stats.get(m.id), maintenance.has(m.id));
  }

  async function found(actor: Actor, id: string): Promise<MonitorRow> {
    const m = UUID.test(id) ? await monitors.find(id.toLowerCase(), actor.workspaceId) : undefined;
    if (!m) throw notFound('Monitor');
    return m;
  }

  const announce = (m: MonitorRow, change: 'created' | 'updated' | 'deleted') =>
    deps.publish(Events.MONITOR_UPDATED, team(m.workspace_id), { monitorId: m.id, workspaceId: m.workspace_id, change }, m.created_by);

  const service = {
    /** `codeKey`: a monitor made by `crucible deploy`, found again by it. */
    async create(actor: Actor, body: MonitorCreate, codeKey: string | null = null) {
      const { test, judging, baseline } = await checkedTest(actor, body.test);
      const s = checkedSchedule(body.schedule as MonitorSchedule);
      const enabled = body.enabled ?? true;
      const m = await monitors
        .create({
          workspaceId: actor.workspaceId,
          createdBy: actor.id,
          name: body.name,
          test,
          judging,
          baseline,
          everySeconds: s.everySeconds,
          cron: s.cron,
          timezone: s.timezone,
          enabled,
          nextRunAt: enabled ? s.next : null,
          codeKey,
        })
        .catch((err: unknown) => Promise.reject(codeKeyTaken(err, codeKey)));
      await announce(m, 'created');
      return view(actor, m);
    },

    /** `POST /api/monitors/deploy`: checks, creates, updates and deletes as the other routes do. */
    deploy: (actor: Actor, body: MonitorDeploy) => deployMonitors(deployOps(deps, service, actor), body),

    async list(actor: Actor) {
      const rows = await monitors.list(actor.workspaceId);
      const [stats, maintenance] = await Promise.all([
        monitors.stats(rows.map((m) => ({ id: m.id, keyMetric: keyMetricOf(m) }))),
        deps.inMaintenance?.(rows) ?? new Set<string>(),
      ]);
      return rows.map((m) => toMonitorView(m, stats.get(m.id), maintenance.has(m.id)));
    },

    async get(actor: Actor, id: string) {
      return view(actor, await found(actor, id));
    },

    async update(actor: Actor, id: string, body: MonitorUpdate) {
      const current = await found(actor, id);
      const changes: MonitorChanges = {};
      if (body.name !== undefined) changes.name = body.name;
      if (body.test !== undefined) Object.assign(changes, await checkedTest(actor, body.test));
      const enabled = body.enabled ?? current.enabled;
      const schedule = body.schedule as MonitorSchedule | undefined;
      if (schedule !== undefined) {
        const s = checkedSchedule(schedule);
        Object.assign(changes, { everySeconds: s.everySeconds, cron: s.cron, timezone: s.timezone });
      }
      if (!enabled) changes.nextRunAt = null;
      else if (schedule !== undefined || !current.enabled) {
        // From the next slot of the (new) schedule: a resumed monitor does not catch up.
        changes.nextRunAt = checkedSchedule(
          schedule ?? (current.every_seconds !== null
            ? { everySeconds: current.every_seconds }
            : { cron: current.cron!, timezone: current.timezone ?? 'UTC' }),
        ).next;
      }
      changes.enabled = enabled;
      const m = await monitors.update(current.id, actor.workspaceId, changes);
      if (!m) throw notFound('Monitor');
      await announce(m, 'updated');
      return view(actor, m);
    },

    async delete(actor: Actor, id: string) {
      const m = await found(actor, id);
      const cancelled = await monitors.delete(m.id, actor.workspaceId);
      if (!cancelled) throw notFound('Monitor');
      for (const run of cancelled) {
        await deps.queues.monitorQueue
          .remove(run.test_id)
          .catch((err: unknown) => deps.log.warn({ err, testId: run.test_id }, 'could not remove a run'));
      }
      await announce(m, 'deleted');
    },

    async runNow(actor: Actor, id: string) {
      const m = await found(actor, id);
      const baseline = m.baseline === 'previous' ? ((await monitors.previousRuns([m.id])).get(m.id) ?? null) : m.baseline;
      const run = await monitors.runNow(m, randomUUID(), baseline);
      if (!run) throw notFound('Monitor');
      const { row } = run;
      await deps.publish(
        Events.QUEUE_JOB_ADDED,
        channelName(Channels.JOB_STATUS, { jobId: row.test_id }),
        queueJobAdded({ testId: row.test_id, testType: row.test_type, priority: row.priority, queuePosition: null }),
        row.user_id,
      );
      await deps.queues.monitorQueue
        .add(row.test_type, testJobData(row), testJobOptions(row.test_type, row.test_id, row.run, row.priority))
        .catch((err: unknown) => deps.log.warn({ err, testId: row.test_id }, 'could not enqueue; the reconciler will'));
      return { testId: row.test_id, scheduledFor: row.scheduled_for!.toISOString(), status: 'queued' as const };
    },

    async runs(actor: Actor, id: string, query: { limit?: number; cursor?: string }) {
      const m = await found(actor, id);
      const limit = query.limit ?? 50;
      const rows = await monitors.runs(m.id, limit + 1, query.cursor ? decodeCursor(query.cursor) : undefined);
      const more = rows.length > limit;
      if (more) rows.pop();
      return { items: rows.map(toRunView), nextCursor: more ? encodeCursor(rows.at(-1)!.scheduled_for) : null };
    },
  };
  return service;
}

export type MonitorsService = ReturnType<typeof createMonitorsService>;
