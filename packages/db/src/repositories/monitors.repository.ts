import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Judging, MonitorState, TestType } from '@crucible/contracts';
import type { Database, MonitorRow, MonitorSlotRow, TestRow } from '../types.js';

export interface NewMonitor {
  workspaceId: string;
  createdBy: string;
  name: string;
  test: Record<string, unknown>;
  judging: Judging | null;
  baseline: string | null;
  everySeconds: number | null;
  cron: string | null;
  timezone: string | null;
  enabled: boolean;
  nextRunAt: Date | null;
  codeKey?: string | null;
}

export type MonitorChanges = Partial<Omit<NewMonitor, 'workspaceId' | 'createdBy'>>;

/** What the scheduler decided for one due monitor: the slot it runs, those it records, where it goes next. */
export interface SlotPlan {
  monitor: MonitorRow;
  /** The slots to run now, oldest first: the latest, and any others still within the lateness grace. */
  runs: Date[];
  /** Earlier slots nobody ran in time (every process was away). */
  missed: Date[];
  /** Slots not run on purpose, and why. */
  skipped: { at: Date; reason: string }[];
  next: Date;
  /** The run's baseline: a test id, or none. */
  baseline: string | null;
}

/** A run's test as it goes in: one per claimed slot. */
export interface ClaimedRun {
  row: TestRow;
  monitor: MonitorRow;
}

/** One slot of a monitor with its run's test, as the runs list shows it. */
export interface MonitorRunRow extends MonitorSlotRow {
  status: string | null;
  verdict: TestRow['verdict'];
  started_at: Date | null;
  completed_at: Date | null;
  metrics: unknown;
}

/** Per monitor: its latest finished run, uptime over 24 h and 30 d, its key metric over 24 h. */
export interface MonitorStats {
  lastRun: { testId: string; scheduledFor: Date; state: MonitorState; completedAt: Date | null } | null;
  uptime24h: number | null;
  uptime30d: number | null;
  series: { t: Date; v: number }[];
}

/** Points of a monitor's key-metric series: its latest runs within 24 h. */
const SERIES_POINTS = 200;

/**
 * Repository of `monitors` and `monitor_slots`: a monitor, its claimed slots and the tests that
 * are its runs. Slots are claimed under `FOR UPDATE SKIP LOCKED` of the monitor's row and written
 * with `ON CONFLICT DO NOTHING` against both unique keys, so a slot can never become two runs.
 */
export class MonitorsRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async create(m: NewMonitor): Promise<MonitorRow> {
    return this.#db
      .insertInto('monitors')
      .values({
        workspace_id: m.workspaceId,
        created_by: m.createdBy,
        name: m.name,
        test: JSON.stringify(m.test),
        judging: m.judging ? JSON.stringify(m.judging) : null,
        baseline: m.baseline,
        every_seconds: m.everySeconds,
        cron: m.cron,
        timezone: m.timezone,
        enabled: m.enabled,
        next_run_at: m.nextRunAt,
        code_key: m.codeKey ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async find(id: string, workspaceId: string): Promise<MonitorRow | undefined> {
    return this.#db
      .selectFrom('monitors')
      .selectAll()
      .where('id', '=', id)
      .where('workspace_id', '=', workspaceId)
      .executeTakeFirst();
  }

  async list(workspaceId: string): Promise<MonitorRow[]> {
    return this.#db
      .selectFrom('monitors')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .orderBy('name')
      .orderBy('id')
      .execute();
  }

  /** The monitors of `ids` that belong to `workspaceId` (a status page may show only its own). */
  async idsInWorkspace(workspaceId: string, ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await this.#db
      .selectFrom('monitors')
      .select('id')
      .where('workspace_id', '=', workspaceId)
      .where('id', 'in', ids)
      .execute();
    return rows.map((r) => r.id);
  }

  async update(id: string, workspaceId: string, c: MonitorChanges): Promise<MonitorRow | undefined> {
    const set: Record<string, unknown> = {};
    if (c.name !== undefined) set.name = c.name;
    if (c.test !== undefined) set.test = JSON.stringify(c.test);
    if (c.judging !== undefined) set.judging = c.judging ? JSON.stringify(c.judging) : null;
    if (c.baseline !== undefined) set.baseline = c.baseline;
    if (c.everySeconds !== undefined) set.every_seconds = c.everySeconds;
    if (c.cron !== undefined) set.cron = c.cron;
    if (c.timezone !== undefined) set.timezone = c.timezone;
    if (c.enabled !== undefined) set.enabled = c.enabled;
    if (c.nextRunAt !== undefined) set.next_run_at = c.nextRunAt;
    if (c.codeKey !== undefined) set.code_key = c.codeKey;
    if (Object.keys(set).length === 0) return this.find(id, workspaceId);
    return this.#db
      .updateTable('monitors')
      .set(set)
      .where('id', '=', id)
      .where('workspace_id', '=', workspaceId)
      .returningAll()
      .executeTakeFirst();
  }

  /**
   * Deletes the monitor and cancels its runs still queued, in one transaction that waits for a
   * scheduler holding the monitor's row: once it returns, no slot of it can be claimed. Its id
   * leaves the status pages and maintenance windows that named it. Returns the
   * cancelled runs (their jobs are the caller's to remove), or undefined when there was no such monitor.
   */
  async delete(id: string, workspaceId: string): Promise<TestRow[] | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const locked = await trx
        .selectFrom('monitors')
        .select('id')
        .where('id', '=', id)
        .where('workspace_id', '=', workspaceId)
        .forUpdate()
        .executeTakeFirst();
      if (!locked) return undefined;
      const cancelled = await trx
        .updateTable('test_queue')
        .set({ status: 'cancelled', completed_at: sql`now()` })
        .where('monitor_id', '=', id)
        .where('status', '=', 'queued')
        .returningAll()
        .execute();
      // Status pages and maintenance windows name monitors in arrays (no foreign key): drop it there too.
      await sql`UPDATE status_pages SET monitor_ids = array_remove(monitor_ids, ${id}::uuid)
        WHERE workspace_id = ${workspaceId} AND ${id}::uuid = ANY(monitor_ids)`.execute(trx);
      await sql`UPDATE maintenance_windows SET monitor_ids = array_remove(monitor_ids, ${id}::uuid)
        WHERE workspace_id = ${workspaceId} AND ${id}::uuid = ANY(monitor_ids)`.execute(trx);
      await trx.deleteFrom('monitors').where('id', '=', id).execute();
      return cancelled;
    });
  }

  /** Locks up to `limit` enabled monitors whose next slot is due; skips those another scheduler holds. Call in a transaction. */
  async lockDue(limit: number): Promise<{ now: Date; due: MonitorRow[] }> {
    const { rows } = await sql<MonitorRow & { db_now: Date }>`
      SELECT m.*, now() AS db_now FROM monitors m
      WHERE m.enabled AND m.next_run_at <= now()
      ORDER BY m.next_run_at
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED`.execute(this.#db);
    const now = rows[0]?.db_now ?? new Date();
    return { now, due: rows.map(({ db_now: _, ...m }) => m as MonitorRow) };
  }

  /** The monitors' latest completed runs, for a `previous` baseline. Call in the claim's transaction. */
  async previousRuns(monitorIds: string[]): Promise<Map<string, string>> {
    if (monitorIds.length === 0) return new Map();
    const { rows } = await sql<{ monitor_id: string; test_id: string }>`
      SELECT DISTINCT ON (monitor_id) monitor_id, test_id FROM test_queue
      WHERE monitor_id = ANY(${monitorIds}::uuid[]) AND status = 'completed'
      ORDER BY monitor_id, scheduled_for DESC`.execute(this.#db);
    return new Map(rows.map((r) => [r.monitor_id, r.test_id]));
  }

  /**
   * Writes the plans of locked monitors: each run's test (`queued`), every slot, the next slot.
   * A slot that exists already (it cannot, under the lock; the keys make sure) is left as it was.
   * Returns the runs created. Call in the transaction that locked them.
   */
  async recordPlans(plans: SlotPlan[], newId: () => string): Promise<ClaimedRun[]> {
    const created = await this.#insertRuns(
      plans.flatMap((p) =>
        p.runs.map((at) => ({ monitor: p.monitor, at, baseline: p.baseline, testId: newId() })),
      ),
    );
    const slotKey = (monitorId: string, at: Date) => `${monitorId}@${at.getTime()}`;
    const bySlot = new Map(created.map((r) => [slotKey(r.row.monitor_id!, r.row.scheduled_for!), r]));
    const slots = plans.flatMap((p) => [
      ...p.runs.flatMap((at) => {
        const run = bySlot.get(slotKey(p.monitor.id, at));
        return run ? [{ m: p.monitor.id, at, outcome: 'run', reason: null, test: run.row.test_id }] : [];
      }),
      ...p.missed.map((at) => ({ m: p.monitor.id, at, outcome: 'missed', reason: null, test: null })),
      ...p.skipped.map((s) => ({
        m: p.monitor.id,
        at: s.at,
        outcome: 'skipped',
        reason: s.reason,
        test: null,
      })),
    ]);
    if (slots.length > 0) {
      await sql`
        INSERT INTO monitor_slots (monitor_id, scheduled_for, outcome, reason, test_id)
        SELECT * FROM unnest(${slots.map((s) => s.m)}::uuid[], ${slots.map((s) => s.at.toISOString())}::timestamptz[],
          ${slots.map((s) => s.outcome)}::text[], ${slots.map((s) => s.reason)}::text[], ${slots.map((s) => s.test)}::uuid[])
        ON CONFLICT DO NOTHING`.execute(this.#db);
    }
    await sql`
      UPDATE monitors m SET next_run_at = v.next
      FROM unnest(${plans.map((p) => p.monitor.id)}::uuid[], ${plans.map((p) => p.next.toISOString())}::timestamptz[])
        AS v(id, next)
      WHERE m.id = v.id`.execute(this.#db);
    return created;
  }

  /**
   * A run outside the schedule ("run now"), at `at`: its test and its slot, in one transaction.
   * Undefined when the monitor is gone.
   */
  async runNow(
    monitor: MonitorRow,
    testId: string,
    baseline: string | null,
  ): Promise<ClaimedRun | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const repo = new MonitorsRepository(trx);
      const at = (await sql<{ now: Date }>`SELECT now() AS now`.execute(trx)).rows[0]!.now;
      const [run] = await repo.#insertRuns([{ monitor, at, baseline, testId }]);
      if (!run) return undefined;
      await trx
        .insertInto('monitor_slots')
        .values({
          monitor_id: monitor.id,
          scheduled_for: at,
          outcome: 'run',
          reason: 'manual',
          test_id: testId,
        })
        .execute();
      return run;
    });
  }

  /**
   * Runs are released at once (`dispatched_at`): they go on the monitors' own queue, never on the
   * workspaces' waiting lists of fair scheduling.
   */
  async #insertRuns(
    runs: { monitor: MonitorRow; at: Date; baseline: string | null; testId: string }[],
  ): Promise<ClaimedRun[]> {
    if (runs.length === 0) return [];
    const col = <T>(f: (r: (typeof runs)[number]) => T) => runs.map(f);
    const judging = (r: (typeof runs)[number]) => {
      const j = r.monitor.judging ?? (r.baseline ? { thresholds: [] } : null);
      return j ? JSON.stringify(r.baseline ? { ...j, baseline: r.baseline } : j) : null;
    };
    const test = (r: (typeof runs)[number]) =>
      r.monitor.test as {
        testType: TestType;
        url: string;
        config?: unknown;
        priority?: number;
        name?: string;
      };
    const { rows } = await sql<TestRow>`
      INSERT INTO test_queue (test_id, test_type, test_name, url, config, priority, user_id, workspace_id,
        judging, monitor_id, scheduled_for, dispatched_at)
      SELECT *, now() FROM unnest(${col((r) => r.testId)}::uuid[], ${col((r) => test(r).testType)}::text[],
        ${col((r) => test(r).name ?? r.monitor.name)}::text[], ${col((r) => test(r).url)}::text[],
        ${col((r) => JSON.stringify(test(r).config ?? {}))}::jsonb[], ${col((r) => test(r).priority ?? 5)}::smallint[],
        ${col((r) => r.monitor.created_by)}::uuid[], ${col((r) => r.monitor.workspace_id)}::uuid[],
        ${col(judging)}::jsonb[], ${col((r) => r.monitor.id)}::uuid[], ${col((r) => r.at.toISOString())}::timestamptz[])
      ON CONFLICT (monitor_id, scheduled_for) WHERE monitor_id IS NOT NULL DO NOTHING
      RETURNING *`.execute(this.#db);
    const monitors = new Map(runs.map((r) => [r.monitor.id, r.monitor]));
    return rows.map((row) => ({ row, monitor: monitors.get(row.monitor_id!)! }));
  }

  /**
   * Notes what a finished run says of its monitor and, when it is the monitor's latest finished run
   * and says something else than the monitor did, changes the monitor's state. Returns the change.
   */
  async settleRun(
    testId: string,
    stateOf: (run: TestRow) => MonitorState,
    /** Whether the monitor's state stays as it is (inside a maintenance window): the slot is still noted. */
    holdState: (monitor: MonitorRow, db: Kysely<Database>) => Promise<boolean> = async () => false,
    /**
     * Runs in the same transaction once the run's state is noted, the monitor's row still held (alert
     * rules), told whether the state was held for maintenance.
     */
    within?: (trx: Kysely<Database>, run: TestRow, maintenance: boolean) => Promise<void>,
  ): Promise<
    | { run: TestRow; state: MonitorState; change?: { from: MonitorState | null; monitor: MonitorRow } }
    | undefined
  > {
    return this.#db.transaction().execute(async (trx) => {
      const run = await trx
        .selectFrom('test_queue')
        .selectAll()
        .where('test_id', '=', testId)
        .executeTakeFirst();
      if (
        !run?.monitor_id ||
        !run.scheduled_for ||
        !['completed', 'failed', 'cancelled'].includes(run.status)
      ) {
        return undefined;
      }
      // The monitor's row first, as `delete` and the scheduler take it: a slot locked before its
      // monitor deadlocks against a delete, which holds the monitor and cascades to its slots.
      const held = await trx
        .selectFrom('monitors')
        .selectAll()
        .where('id', '=', run.monitor_id)
        .forUpdate()
        .executeTakeFirst();
      if (!held) return undefined;
      const state = stateOf(run);
      await trx
        .updateTable('monitor_slots')
        .set({ state })
        .where('monitor_id', '=', run.monitor_id)
        .where('scheduled_for', '=', run.scheduled_for)
        .execute();
      const maintenance = await holdState(held, trx);
      await within?.(trx, run, maintenance);
      if (maintenance) return { run, state };
      const { rows } = await sql<MonitorRow & { old_state: MonitorState | null }>`
        WITH old AS (SELECT id, state FROM monitors WHERE id = ${run.monitor_id})
        UPDATE monitors m SET state = ${state}, state_changed_at = now()
        FROM old
        WHERE m.id = old.id AND m.state IS DISTINCT FROM ${state}
          AND NOT EXISTS (SELECT 1 FROM monitor_slots s WHERE s.monitor_id = m.id AND s.state IS NOT NULL
            AND s.scheduled_for > ${run.scheduled_for})
        RETURNING m.*, old.state AS old_state`.execute(trx);
      const changed = rows[0];
      if (!changed) return { run, state };
      const { old_state: from, ...monitor } = changed;
      return { run, state, change: { from, monitor: monitor as MonitorRow } };
    });
  }

  /** A page of a monitor's slots, newest first, with their runs' tests. */
  async runs(monitorId: string, limit: number, before?: Date): Promise<MonitorRunRow[]> {
    const { rows } = await sql<MonitorRunRow>`
      SELECT s.*, t.status, t.verdict, t.started_at, t.completed_at, t.result -> 'metrics' AS metrics
      FROM monitor_slots s LEFT JOIN test_queue t ON t.test_id = s.test_id
      WHERE s.monitor_id = ${monitorId} ${before ? sql`AND s.scheduled_for < ${before.toISOString()}` : sql``}
      ORDER BY s.scheduled_for DESC
      LIMIT ${limit}`.execute(this.#db);
    return rows;
  }

  /** Uptime, last run and key-metric series of each of `monitors`, in three grouped statements. */
  async stats(monitors: { id: string; keyMetric: string | null }[]): Promise<Map<string, MonitorStats>> {
    const ids = monitors.map((m) => m.id);
    const out = new Map<string, MonitorStats>(
      ids.map((id) => [id, { lastRun: null, uptime24h: null, uptime30d: null, series: [] }]),
    );
    if (ids.length === 0) return out;
    const uptime = await sql<{ monitor_id: string; d1: number | null; d30: number | null }>`
      SELECT monitor_id,
        100.0 * count(*) FILTER (WHERE state <> 'down' AND scheduled_for > now() - interval '24 hours')
          / nullif(count(*) FILTER (WHERE scheduled_for > now() - interval '24 hours'), 0) AS d1,
        100.0 * count(*) FILTER (WHERE state <> 'down') / nullif(count(*), 0) AS d30
      FROM monitor_slots
      WHERE monitor_id = ANY(${ids}::uuid[]) AND state IS NOT NULL AND scheduled_for > now() - interval '30 days'
      GROUP BY monitor_id`.execute(this.#db);
    for (const r of uptime.rows) {
      const s = out.get(r.monitor_id)!;
      s.uptime24h = r.d1 === null ? null : Number(r.d1);
      s.uptime30d = r.d30 === null ? null : Number(r.d30);
    }
    const last = await sql<{
      monitor_id: string;
      test_id: string;
      scheduled_for: Date;
      state: MonitorState;
      completed_at: Date | null;
    }>`
      SELECT DISTINCT ON (s.monitor_id) s.monitor_id, s.test_id, s.scheduled_for, s.state, t.completed_at
      FROM monitor_slots s JOIN test_queue t ON t.test_id = s.test_id
      WHERE s.monitor_id = ANY(${ids}::uuid[]) AND s.state IS NOT NULL
      ORDER BY s.monitor_id, s.scheduled_for DESC`.execute(this.#db);
    for (const r of last.rows) {
      out.get(r.monitor_id)!.lastRun = {
        testId: r.test_id,
        scheduledFor: r.scheduled_for,
        state: r.state,
        completedAt: r.completed_at,
      };
    }
    const metrics = monitors.filter((m) => m.keyMetric);
    if (metrics.length === 0) return out;
    const series = await sql<{ monitor_id: string; t: Date; v: number }>`
      SELECT monitor_id, t, v FROM (
        SELECT q.monitor_id, q.scheduled_for AS t, (q.result -> 'metrics' -> k.metric ->> 'value')::float8 AS v,
          row_number() OVER (PARTITION BY q.monitor_id ORDER BY q.scheduled_for DESC) AS n
        FROM unnest(${metrics.map((m) => m.id)}::uuid[], ${metrics.map((m) => m.keyMetric)}::text[]) AS k(id, metric)
        JOIN test_queue q ON q.monitor_id = k.id
        WHERE q.status = 'completed' AND q.scheduled_for > now() - interval '24 hours'
          AND jsonb_typeof(q.result -> 'metrics' -> k.metric -> 'value') = 'number'
      ) x WHERE n <= ${SERIES_POINTS}
      ORDER BY monitor_id, t`.execute(this.#db);
    for (const r of series.rows) out.get(r.monitor_id)!.series.push({ t: r.t, v: Number(r.v) });
    return out;
  }
}
