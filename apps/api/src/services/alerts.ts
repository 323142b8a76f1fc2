import {
  ALERT_RUNS_DEFAULT,
  InvalidThresholdError,
  invalidThresholdDetail,
  parseThreshold,
  validateThresholds,
} from '@crucible/contracts';
import type { AlertCondition, IncidentStatus, TestType } from '@crucible/contracts';
import type {
  AlertRuleCreate,
  AlertRuleUpdate,
  AlertRuleView,
  IncidentDetail,
  IncidentStatsResponse,
  IncidentView,
} from '@crucible/contracts/api';
import { AlertRulesRepository, IncidentsRepository } from '@crucible/db';
import type { AlertRuleWithChannels, Db, IncidentRow, IncidentRunRow, IncidentStatsRow } from '@crucible/db';
import { notifyIncident } from '@crucible/notify';
import type { NotifySettings } from '@crucible/notify';
import { HttpProblem, notFound } from '../errors.js';
import type { Actor } from './workspace-access.js';

export interface AlertsDeps {
  db: Db['kysely'];
  settings: NotifySettings;
}

const badRequest = (code: string, detail: string) => new HttpProblem(400, code, 'Bad Request', detail);
const conflict = (detail: string) => new HttpProblem(409, 'INCIDENT_STATE', 'Conflict', detail);

export function ruleView(row: AlertRuleWithChannels): AlertRuleView {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    name: row.name,
    target: row.monitor_id ? { monitorId: row.monitor_id } : { allMonitors: true },
    condition: row.condition,
    failAfter: row.fail_after,
    recoverAfter: row.recover_after,
    remindEveryMinutes: row.remind_every_minutes,
    severity: row.severity,
    channelIds: row.channel_ids,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export function incidentView(row: IncidentRow): IncidentView {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    key: row.key,
    ruleId: row.rule_id,
    ruleName: row.rule_name,
    monitorId: row.monitor_id,
    monitorName: row.monitor_name,
    severity: row.severity,
    status: row.status,
    openedAt: row.opened_at.toISOString(),
    acknowledgedAt: row.acknowledged_at?.toISOString() ?? null,
    acknowledgedBy: row.acknowledged_by,
    resolvedAt: row.resolved_at?.toISOString() ?? null,
    resolvedBy: row.resolved_by,
    reminders: row.reminders,
  };
}

const runView = (r: IncidentRunRow) => ({
  testId: r.test_id,
  scheduledFor: r.scheduled_for?.toISOString() ?? null,
  state: r.state,
  completedAt: r.completed_at?.toISOString() ?? null,
});

/** Incidents' cursor: the last one's opening time and id, opaque to clients. */
const encodeCursor = (row: IncidentRow) =>
  Buffer.from(`i1:${row.opened_at.toISOString()}/${row.id}`).toString('base64url');
function decodeCursor(cursor: string): { openedAt: Date; id: string } {
  const match = /^i1:([^/]+)\/([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString());
  const openedAt = match ? new Date(match[1]!) : undefined;
  if (!match || !openedAt || Number.isNaN(openedAt.getTime()))
    throw badRequest('INVALID_CURSOR', 'cursor is not one this API returned');
  return { openedAt, id: match[2]! };
}

/**
 * Alert rules of the actor's workspace (DESIGN.md, "Alerts and notifications"): another
 * workspace's rule, channel or monitor is not found.
 */
export function createAlertRules(deps: AlertsDeps) {
  const rules = new AlertRulesRepository(deps.db);

  /** The monitor's test type, if it is the workspace's. */
  async function monitorType(actor: Actor, monitorId: string): Promise<TestType> {
    const row = await deps.db
      .selectFrom('monitors')
      .select('test')
      .where('workspace_id', '=', actor.workspaceId)
      .where('id', '=', monitorId)
      .executeTakeFirst();
    if (!row) throw notFound('Monitor');
    return (row.test as { testType: TestType }).testType;
  }

  async function checkChannels(actor: Actor, channelIds: readonly string[]): Promise<void> {
    if (channelIds.length === 0) return;
    const found = await deps.db
      .selectFrom('notification_channels')
      .select('id')
      .where('workspace_id', '=', actor.workspaceId)
      .where('id', 'in', [...channelIds])
      .execute();
    if (found.length !== new Set(channelIds).size) throw notFound('Notification channel');
  }

  async function findRule(actor: Actor, id: string): Promise<AlertRuleWithChannels> {
    const row = await rules.find(actor.workspaceId, id);
    if (!row) throw notFound('Alert rule');
    return row;
  }

  return {
    async createRule(actor: Actor, body: AlertRuleCreate): Promise<AlertRuleView> {
      const monitorId = 'monitorId' in body.target ? body.target.monitorId : null;
      const testType = monitorId ? await monitorType(actor, monitorId) : undefined;
      const condition = checkCondition(body.condition, testType);
      await checkChannels(actor, body.channelIds);
      const row = await rules.create({
        workspaceId: actor.workspaceId,
        createdBy: actor.id,
        name: body.name,
        monitorId,
        condition,
        failAfter: body.failAfter ?? ALERT_RUNS_DEFAULT,
        recoverAfter: body.recoverAfter ?? ALERT_RUNS_DEFAULT,
        remindEveryMinutes: body.remindEveryMinutes ?? null,
        severity: body.severity,
        channelIds: body.channelIds,
      });
      return ruleView(row);
    },

    listRules: async (actor: Actor) => ({ items: (await rules.list(actor.workspaceId)).map(ruleView) }),

    getRule: async (actor: Actor, id: string) => ruleView(await findRule(actor, id)),

    async updateRule(actor: Actor, id: string, body: AlertRuleUpdate): Promise<AlertRuleView> {
      const existing = await findRule(actor, id);
      const target =
        body.target ?? (existing.monitor_id ? { monitorId: existing.monitor_id } : { allMonitors: true });
      const monitorId = 'monitorId' in target ? target.monitorId : null;
      const testType = monitorId ? await monitorType(actor, monitorId) : undefined;
      const condition = checkCondition(body.condition ?? existing.condition, testType);
      if (body.channelIds) await checkChannels(actor, body.channelIds);
      const row = await rules.update(actor.workspaceId, id, {
        ...(body.name !== undefined && { name: body.name }),
        ...(body.target !== undefined && { monitorId }),
        ...(body.condition !== undefined && { condition }),
        ...(body.failAfter !== undefined && { failAfter: body.failAfter }),
        ...(body.recoverAfter !== undefined && { recoverAfter: body.recoverAfter }),
        ...(body.remindEveryMinutes !== undefined && { remindEveryMinutes: body.remindEveryMinutes }),
        ...(body.severity !== undefined && { severity: body.severity }),
        ...(body.channelIds !== undefined && { channelIds: body.channelIds }),
      });
      if (!row) throw notFound('Alert rule');
      return ruleView(row);
    },

    async deleteRule(actor: Actor, id: string): Promise<void> {
      if (!(await rules.delete(actor.workspaceId, id, actor.id))) throw notFound('Alert rule');
    },
  };
}

/** The condition read with the verdicts' threshold language, against the monitor's type when there is one. */
function checkCondition(condition: AlertCondition, testType: TestType | undefined): AlertCondition {
  if (condition.kind === 'down') return condition;
  try {
    if (testType) validateThresholds(testType, [condition.expression]);
    else parseThreshold(condition.expression);
  } catch (err) {
    if (err instanceof InvalidThresholdError) {
      throw badRequest(
        'INVALID_THRESHOLD',
        `condition.expression: ${testType ? invalidThresholdDetail(testType, err) : err.message}`,
      );
    }
    throw err;
  }
  return condition;
}

/** A stats range's bound: an ISO 8601 instant with a date, else 400 `INVALID_RANGE`. */
function rangeBound(name: string, value: string): Date {
  const at = /^\d{4}-\d{2}-\d{2}/.test(value) ? new Date(value) : undefined;
  if (!at || Number.isNaN(at.getTime()))
    throw badRequest('INVALID_RANGE', `${name}: "${value}" is not an ISO 8601 date-time`);
  return at;
}

const statsFigures = (row: IncidentStatsRow) => ({
  incidents: row.incidents,
  timeDownMs: row.timeDownMs,
  mttaMs: row.mttaMs,
  mttrMs: row.mttrMs,
  notificationsSent: row.notificationsSent,
  notificationsFailed: row.notificationsFailed,
});

/**
 * Incidents of the actor's workspace: the worker opens and resolves them as runs settle; here
 * people list, read, acknowledge and resolve them, each change and its notifications written in
 * one transaction. Another workspace's incident is not found.
 */
export function createIncidents(deps: AlertsDeps) {
  const incidents = new IncidentsRepository(deps.db);
  const notifyOptions = () => ({
    retryForMs: deps.settings.retryHours * 3_600_000,
    groupWaitMs: deps.settings.alertGroupWaitMs,
  });

  /** Changes an incident (locked) and writes its notification, in one transaction. */
  async function transition(
    actor: Actor,
    id: string,
    change: (repo: IncidentsRepository, row: IncidentRow) => Promise<IncidentRow>,
    type: 'incident.acknowledged' | 'incident.resolved',
  ): Promise<IncidentView> {
    return deps.db.transaction().execute(async (trx) => {
      const repo = new IncidentsRepository(trx);
      const row = await repo.find(actor.workspaceId, id, true);
      if (!row) throw notFound('Incident');
      const changed = await change(repo, row);
      await notifyIncident(trx, changed, type, notifyOptions());
      return incidentView(changed);
    });
  }

  return {
    async listIncidents(
      actor: Actor,
      query: { status?: IncidentStatus; monitorId?: string; limit?: number; cursor?: string },
    ): Promise<{ items: IncidentView[]; nextCursor: string | null }> {
      const limit = query.limit ?? 50;
      const rows = await incidents.list(actor.workspaceId, {
        status: query.status,
        monitorId: query.monitorId,
        limit: limit + 1,
        ...(query.cursor !== undefined && { cursor: decodeCursor(query.cursor) }),
      });
      const page = rows.slice(0, limit);
      return {
        items: page.map(incidentView),
        nextCursor: rows.length > limit ? encodeCursor(page.at(-1)!) : null,
      };
    },

    async stats(actor: Actor, query: { from: string; to: string }): Promise<IncidentStatsResponse> {
      const from = rangeBound('from', query.from);
      const to = rangeBound('to', query.to);
      if (from > to) throw badRequest('INVALID_RANGE', 'from is later than to');
      const [rules, monitors] = await Promise.all([
        incidents.stats(actor.workspaceId, 'rule', from, to),
        incidents.stats(actor.workspaceId, 'monitor', from, to),
      ]);
      return {
        from: from.toISOString(),
        to: to.toISOString(),
        rules: rules.map((r) => ({ ruleId: r.id, ruleName: r.name, ...statsFigures(r) })),
        monitors: monitors.map((m) => ({ monitorId: m.id, monitorName: m.name, ...statsFigures(m) })),
      };
    },

    async getIncident(actor: Actor, id: string): Promise<IncidentDetail> {
      const row = await incidents.find(actor.workspaceId, id);
      if (!row) throw notFound('Incident');
      const [openedBy, resolvedBy, notifications] = await Promise.all([
        incidents.runs(row.opened_by_runs),
        incidents.runs(row.resolved_by_runs ?? []),
        incidents.notifications(row.id),
      ]);
      return {
        ...incidentView(row),
        openedBy: openedBy.map(runView),
        resolvedByRuns: resolvedBy.map(runView),
        notifications: notifications.map((n) => ({
          eventId: n.eventId,
          type: n.type,
          createdAt: n.createdAt.toISOString(),
          deliveries: n.deliveries.map((d) => ({
            ...d,
            attempts: d.attempts.map((a) => ({ ...a, at: a.at.toISOString() })),
          })),
        })),
      };
    },

    acknowledge: (actor: Actor, id: string) =>
      transition(
        actor,
        id,
        async (repo, row) => {
          if (row.status !== 'open') throw conflict(`the incident is ${row.status}, not open`);
          return repo.acknowledge(row.id, actor.id);
        },
        'incident.acknowledged',
      ),

    resolve: (actor: Actor, id: string) =>
      transition(
        actor,
        id,
        async (repo, row) => {
          if (row.status === 'resolved') throw conflict('the incident is already resolved');
          return repo.resolve(row.id, { by: actor.id, runs: [] });
        },
        'incident.resolved',
      ),
  };
}

export type AlertRules = ReturnType<typeof createAlertRules>;
export type Incidents = ReturnType<typeof createIncidents>;
