import { sql } from 'kysely';
import type { Kysely, RawBuilder } from 'kysely';
import type {
  DeliveryStatus,
  IncidentStatus,
  MonitorState,
  NotificationEventType,
  Severity,
} from '@crucible/contracts';
import type { Database, IncidentRow } from '../types.js';

/** A finished run of a monitor as rules judge it. */
export interface SettledRunRow {
  test_id: string;
  scheduled_for: Date;
  state: MonitorState;
  /** `result.metrics` of its test, or null. */
  metrics: Record<string, { value: number | null } | null> | null;
}

export interface NewIncident {
  workspaceId: string;
  ruleId: string;
  monitorId: string;
  key: string;
  ruleName: string;
  monitorName: string;
  severity: Severity;
  /** The runs that opened it, newest first. */
  runs: SettledRunRow[];
  /** When its first reminder is due; null: none. */
  nextRemindAt: Date | null;
}

/** A run named in an incident's timeline. */
export interface IncidentRunRow {
  test_id: string;
  scheduled_for: Date | null;
  state: MonitorState | null;
  completed_at: Date | null;
}

/** A notification that told of an incident, with each delivery's attempts. */
export interface IncidentNotificationRow {
  eventId: string;
  type: NotificationEventType;
  createdAt: Date;
  deliveries: {
    deliveryId: string;
    channelId: string;
    status: DeliveryStatus;
    attempts: {
      attempt: number;
      status: DeliveryStatus;
      responseStatus: number | null;
      error: string | null;
      durationMs: number | null;
      at: Date;
    }[];
  }[];
}

/** One rule's or monitor's figures over a range (see {@link IncidentsRepository.stats}); durations in ms. */
export interface IncidentStatsRow {
  /** The rule's or monitor's id; null once it was deleted (its incidents keep the name). */
  id: string | null;
  name: string;
  incidents: number;
  timeDownMs: number;
  mttaMs: number | null;
  mttrMs: number | null;
  notificationsSent: number;
  notificationsFailed: number;
}

/**
 * Repository of `incidents` and the notifications that told of them (`incident_notifications`).
 * At most one incident of a rule and monitor is not resolved (a unique partial index); the worker
 * opens and resolves them under the monitor's row lock, in the transaction that settles the run.
 */
export class IncidentsRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** A monitor's latest finished runs (missed and skipped slots are not runs), newest first. */
  async latestRuns(monitorId: string, limit: number): Promise<SettledRunRow[]> {
    const { rows } = await sql<SettledRunRow>`
      SELECT s.test_id, s.scheduled_for, s.state, t.result -> 'metrics' AS metrics
      FROM monitor_slots s LEFT JOIN test_queue t ON t.test_id = s.test_id
      WHERE s.monitor_id = ${monitorId} AND s.outcome = 'run' AND s.state IS NOT NULL AND s.test_id IS NOT NULL
      ORDER BY s.scheduled_for DESC
      LIMIT ${limit}`.execute(this.#db);
    return rows;
  }

  /** The rule's incident on the monitor that is not resolved, locked for the caller's transaction. */
  async current(ruleId: string, monitorId: string): Promise<IncidentRow | undefined> {
    return this.#db
      .selectFrom('incidents')
      .selectAll()
      .where('rule_id', '=', ruleId)
      .where('monitor_id', '=', monitorId)
      .where('status', '<>', 'resolved')
      .forUpdate()
      .executeTakeFirst();
  }

  /** The slot up to which runs were spent by the key's last incident (a new one counts only later runs). */
  async spentThrough(key: string): Promise<Date | null> {
    const row = await this.#db
      .selectFrom('incidents')
      .select((eb) => eb.fn.max('closed_through').as('through'))
      .where('key', '=', key)
      .executeTakeFirst();
    return (row?.through as Date | null | undefined) ?? null;
  }

  async open(incident: NewIncident): Promise<IncidentRow> {
    return this.#db
      .insertInto('incidents')
      .values({
        workspace_id: incident.workspaceId,
        rule_id: incident.ruleId,
        monitor_id: incident.monitorId,
        key: incident.key,
        rule_name: incident.ruleName,
        monitor_name: incident.monitorName,
        severity: incident.severity,
        status: 'open',
        opened_by_runs: incident.runs.map((r) => r.test_id),
        opened_through: incident.runs[0]!.scheduled_for,
        next_remind_at: incident.nextRemindAt,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** Resolved by its runs (`runs`, newest first) or by a user (`by`). */
  async resolve(id: string, how: { by: string | null; runs: SettledRunRow[] }): Promise<IncidentRow> {
    return this.#db
      .updateTable('incidents')
      .set({
        status: 'resolved',
        resolved_at: sql`now()`,
        resolved_by: how.by,
        resolved_by_runs: how.runs.map((r) => r.test_id),
        closed_through: how.runs[0]?.scheduled_for ?? sql`now()`,
        next_remind_at: null,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async acknowledge(id: string, by: string): Promise<IncidentRow> {
    return this.#db
      .updateTable('incidents')
      .set({ status: 'acknowledged', acknowledged_at: sql`now()`, acknowledged_by: by, next_remind_at: null })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** The incident, if it is the workspace's; `lock` holds it for the caller's transaction. */
  async find(workspaceId: string, id: string, lock = false): Promise<IncidentRow | undefined> {
    let query = this.#db
      .selectFrom('incidents')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id);
    if (lock) query = query.forUpdate();
    return query.executeTakeFirst();
  }

  /** A page of the workspace's incidents (of one monitor if asked), newest first; `cursor` is the last one's `(opened_at, id)`. */
  async list(
    workspaceId: string,
    options: {
      status?: IncidentStatus;
      monitorId?: string;
      limit: number;
      cursor?: { openedAt: Date; id: string };
    },
  ): Promise<IncidentRow[]> {
    let query = this.#db
      .selectFrom('incidents')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .orderBy('opened_at', 'desc')
      .orderBy('id', 'desc')
      .limit(options.limit);
    if (options.status) query = query.where('status', '=', options.status);
    if (options.monitorId) query = query.where('monitor_id', '=', options.monitorId);
    if (options.cursor) {
      const { openedAt, id } = options.cursor;
      query = query.where(
        sql<boolean>`(opened_at, id) < (${openedAt.toISOString()}::timestamptz, ${id}::uuid)`,
      );
    }
    return query.execute();
  }

  /** Records that a notification told of the incidents. */
  async link(eventId: string, incidentIds: readonly string[]): Promise<void> {
    if (incidentIds.length === 0) return;
    await this.#db
      .insertInto('incident_notifications')
      .values(incidentIds.map((incident_id) => ({ incident_id, event_id: eventId })))
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  /** The runs named by their test ids, in the order given. */
  async runs(testIds: readonly string[]): Promise<IncidentRunRow[]> {
    if (testIds.length === 0) return [];
    const { rows } = await sql<IncidentRunRow>`
      SELECT t.test_id, t.scheduled_for, s.state, t.completed_at
      FROM unnest(${sql.val(testIds)}::uuid[]) WITH ORDINALITY AS ids(id, n)
      JOIN test_queue t ON t.test_id = ids.id
      LEFT JOIN monitor_slots s ON s.monitor_id = t.monitor_id AND s.scheduled_for = t.scheduled_for
      ORDER BY ids.n`.execute(this.#db);
    return rows;
  }

  /** Every notification that told of the incident, oldest first, with its deliveries and their attempts. */
  async notifications(incidentId: string): Promise<IncidentNotificationRow[]> {
    const { rows } = await sql<IncidentNotificationRow>`
      SELECT e.id AS "eventId", e.type, e.created_at AS "createdAt",
        coalesce((SELECT json_agg(json_build_object(
            'deliveryId', d.id, 'channelId', d.channel_id, 'status', d.status,
            'attempts', coalesce((SELECT json_agg(json_build_object(
                'attempt', a.attempt, 'status', a.status, 'responseStatus', a.response_status,
                'error', a.error, 'durationMs', a.duration_ms, 'at', a.at) ORDER BY a.id)
              FROM notification_attempts a WHERE a.delivery_id = d.id), '[]'::json)
          ) ORDER BY d.created_at, d.id)
          FROM notification_deliveries d WHERE d.event_id = e.id), '[]'::json) AS deliveries
      FROM incident_notifications n JOIN notification_events e ON e.id = n.event_id
      WHERE n.incident_id = ${incidentId}
      ORDER BY e.created_at, e.id`.execute(this.#db);
    return rows.map((r) => ({
      ...r,
      deliveries: r.deliveries.map((d) => ({
        ...d,
        attempts: d.attempts.map((a) => ({ ...a, at: new Date(a.at) })),
      })),
    }));
  }

  /**
   * A workspace's incidents over `[from, to)`, grouped by rule or by monitor (deleted ones by the
   * name their incidents kept), in two grouped statements' worth of SQL. Counted: incidents opened
   * in the range; their mean time to acknowledge and to resolve (of those that were); time down,
   * every incident's open → resolved (→ now while unresolved) clipped to the range; deliveries
   * delivered and failed of notifications written in the range that told of the group's incidents
   * (a grouped notification counts once for each rule and monitor it told of).
   */
  async stats(
    workspaceId: string,
    by: 'rule' | 'monitor',
    from: Date,
    to: Date,
  ): Promise<IncidentStatsRow[]> {
    const id = sql.ref(by === 'rule' ? 'i.rule_id' : 'i.monitor_id');
    const kept = sql.ref(by === 'rule' ? 'i.rule_name' : 'i.monitor_name');
    // A deleted rule's or monitor's incidents group by the name they kept.
    const key = sql`coalesce(${id}::text, '~' || ${kept})`;
    const live = by === 'rule' ? sql`alert_rules` : sql`monitors`;
    const ms = (interval: RawBuilder<unknown>) => sql`round(extract(epoch FROM ${interval}) * 1000)::bigint`;
    const { rows } = await sql<IncidentStatsRow>`
      WITH spans AS (
        SELECT ${id} AS gid, ${key} AS k, ${kept} AS kept,
          i.opened_at >= ${from} AS opened_in,
          greatest(least(coalesce(i.resolved_at, now()), ${to}) - greatest(i.opened_at, ${from}), interval '0') AS down,
          i.acknowledged_at - i.opened_at AS tta, i.resolved_at - i.opened_at AS ttr
        FROM incidents i
        WHERE i.workspace_id = ${workspaceId} AND i.opened_at < ${to}
          AND (i.resolved_at IS NULL OR i.resolved_at > ${from})
      ), figures AS (
        SELECT k, gid, max(kept) AS kept,
          count(*) FILTER (WHERE opened_in)::int AS incidents,
          ${ms(sql`sum(down)`)} AS down_ms,
          ${ms(sql`avg(tta) FILTER (WHERE opened_in)`)} AS mtta_ms,
          ${ms(sql`avg(ttr) FILTER (WHERE opened_in)`)} AS mttr_ms
        FROM spans GROUP BY k, gid
      ), told AS (
        SELECT ${key} AS k, ${id} AS gid, max(${kept}) AS kept,
          count(DISTINCT d.id) FILTER (WHERE d.status = 'delivered')::int AS sent,
          count(DISTINCT d.id) FILTER (WHERE d.status = 'failed')::int AS failed
        FROM incidents i
        JOIN incident_notifications n ON n.incident_id = i.id
        JOIN notification_events e ON e.id = n.event_id
        JOIN notification_deliveries d ON d.event_id = e.id
        WHERE i.workspace_id = ${workspaceId} AND e.created_at >= ${from} AND e.created_at < ${to}
        GROUP BY 1, 2
      )
      SELECT coalesce(f.gid, t.gid) AS id, coalesce(g.name, f.kept, t.kept) AS name,
        coalesce(f.incidents, 0) AS incidents, coalesce(f.down_ms, 0)::float8 AS "timeDownMs",
        f.mtta_ms::float8 AS "mttaMs", f.mttr_ms::float8 AS "mttrMs",
        coalesce(t.sent, 0) AS "notificationsSent", coalesce(t.failed, 0) AS "notificationsFailed"
      FROM figures f FULL JOIN told t ON t.k = f.k
      LEFT JOIN ${live} g ON g.id = coalesce(f.gid, t.gid)
      ORDER BY 3 DESC, 4 DESC, 2, 1`.execute(this.#db);
    return rows;
  }

  /**
   * Open incidents whose reminder is due, locked (`FOR UPDATE SKIP LOCKED`: sweeps in other
   * workers take others) for the caller's transaction, which sends and reschedules them.
   */
  async dueReminders(limit: number): Promise<(IncidentRow & { remind_every_minutes: number })[]> {
    const { rows } = await sql<IncidentRow & { remind_every_minutes: number }>`
      SELECT i.*, r.remind_every_minutes FROM incidents i JOIN alert_rules r ON r.id = i.rule_id
      WHERE i.status = 'open' AND i.next_remind_at <= now() AND r.remind_every_minutes IS NOT NULL
      ORDER BY i.next_remind_at
      LIMIT ${limit}
      FOR UPDATE OF i SKIP LOCKED`.execute(this.#db);
    return rows;
  }

  /** A reminder sent: the next is due `everyMinutes` later. */
  async reminded(id: string, everyMinutes: number): Promise<IncidentRow> {
    return this.#db
      .updateTable('incidents')
      .set({
        reminders: sql`reminders + 1`,
        next_remind_at: sql`now() + make_interval(mins => ${everyMinutes})`,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }
}
