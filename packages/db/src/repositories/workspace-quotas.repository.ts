import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Quota } from '@crucible/contracts';
import type { Database } from '../types.js';
import { TestsRepository } from './tests.repository.js';

/** A workspace's overrides of the deployment's quotas: null keeps the default, 0 means no limit. */
export type QuotaOverrideValues = Record<Quota, number | null>;

/** What a workspace uses of its quotas that PostgreSQL counts. */
export interface QuotaUsage {
  /** Tests queued now. */
  queued: number;
  /** Tests running now. */
  running: number;
  /** Stress connection-seconds granted today (UTC). */
  stressToday: number;
}

/** The repositories a quota admission writes with, inside its transaction. */
export interface AdmissionScope {
  tests: TestsRepository;
  quotas: WorkspaceQuotasRepository;
}

const COLUMNS = {
  queued: 'max_queued',
  running: 'max_running',
  stressBudget: 'stress_budget',
  submitRate: 'submit_rate',
  stressConnections: 'max_stress_connections',
} as const satisfies Record<Quota, string>;

const NO_OVERRIDES: QuotaOverrideValues = {
  queued: null,
  running: null,
  stressBudget: null,
  submitRate: null,
  stressConnections: null,
};

/** Today's date in UTC: the day a stress budget is counted over. */
const TODAY = sql`(now() AT TIME ZONE 'UTC')::date`;

/**
 * Repository of `workspace_quotas` (an instance admin's overrides) and `workspace_stress_usage`
 * (stress connection-seconds granted per workspace and day), and the counts quotas are held to.
 */
export class WorkspaceQuotasRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** The overrides of each workspace that has any (others are absent). */
  async overridesOf(workspaceIds: readonly string[]): Promise<Map<string, QuotaOverrideValues>> {
    const out = new Map<string, QuotaOverrideValues>();
    if (workspaceIds.length === 0) return out;
    const rows = await this.#db
      .selectFrom('workspace_quotas')
      .selectAll()
      .where('workspace_id', 'in', [...workspaceIds])
      .execute();
    for (const row of rows) {
      const values = { ...NO_OVERRIDES };
      for (const [quota, column] of Object.entries(COLUMNS) as [Quota, keyof typeof row][]) {
        const value = row[column];
        values[quota] = value === null ? null : Number(value);
      }
      out.set(row.workspace_id, values);
    }
    return out;
  }

  /** The workspace's overrides (every quota null when it has none). */
  async overrides(workspaceId: string): Promise<QuotaOverrideValues> {
    return (await this.overridesOf([workspaceId])).get(workspaceId) ?? { ...NO_OVERRIDES };
  }

  /** Sets the quotas given (null: back to the default), keeping the others; returns them all. */
  async setOverrides(
    workspaceId: string,
    changes: Partial<QuotaOverrideValues>,
  ): Promise<QuotaOverrideValues> {
    const values: Record<string, number | null> = {};
    for (const [quota, value] of Object.entries(changes) as [Quota, number | null | undefined][]) {
      if (value !== undefined) values[COLUMNS[quota]] = value;
    }
    await this.#db
      .insertInto('workspace_quotas')
      .values({ workspace_id: workspaceId, ...values })
      .onConflict((oc) => oc.column('workspace_id').doUpdateSet({ ...values, updated_at: sql`now()` }))
      .execute();
    return this.overrides(workspaceId);
  }

  /** The workspace's queued and running tests and today's stress connection-seconds. */
  async usage(workspaceId: string): Promise<QuotaUsage> {
    const { rows } = await sql<QuotaUsage>`
      SELECT
        count(*) FILTER (WHERE status = 'queued')::int AS queued,
        count(*) FILTER (WHERE status = 'running')::int AS running,
        (SELECT coalesce(sum(connection_seconds), 0)::float8 FROM workspace_stress_usage
          WHERE workspace_id = ${workspaceId} AND day = ${TODAY}) AS "stressToday"
      FROM test_queue
      WHERE workspace_id = ${workspaceId} AND status IN ('queued', 'running')`.execute(this.#db);
    return rows[0]!;
  }

  /**
   * Runs `decide` in one transaction that holds each of the workspaces' queued counter (its
   * `workspace_queue_counts` row, locked in id order, so two admissions never wait for each other
   * in a circle; a workspace without one gets one, at 0), given what each workspace has queued and
   * has been granted of stress today, read after the lock: concurrent admissions of one workspace,
   * from any api process, see each other's tests. `decide` writes with the scope's repositories,
   * inside the transaction.
   */
  async admit<T>(
    workspaceIds: readonly string[],
    decide: (
      usage: Map<string, Pick<QuotaUsage, 'queued' | 'stressToday'>>,
      scope: AdmissionScope,
    ) => Promise<T>,
  ): Promise<T> {
    const ids = [...new Set(workspaceIds)].sort();
    return this.#db.transaction().execute(async (trx) => {
      // The upsert waits for the row's holder and answers its latest value.
      const { rows: counted } = await sql<{ id: string; queued: number }>`
        INSERT INTO workspace_queue_counts AS c (workspace_id)
        SELECT id FROM unnest(${ids}::uuid[]) AS w(id) ORDER BY id
        ON CONFLICT (workspace_id) DO UPDATE SET queued = c.queued
        RETURNING c.workspace_id::text AS id, c.queued`.execute(trx);
      // A new statement: under READ COMMITTED it sees every admission that held the row before.
      const { rows: stress } = await sql<{ id: string; stressToday: number }>`
        SELECT workspace_id::text AS id, connection_seconds::float8 AS "stressToday"
        FROM workspace_stress_usage WHERE workspace_id = ANY(${ids}::uuid[]) AND day = ${TODAY}`.execute(trx);
      const today = new Map(stress.map((r) => [r.id, r.stressToday]));
      const usage = new Map(
        counted.map((r) => [r.id, { queued: r.queued, stressToday: today.get(r.id) ?? 0 }]),
      );
      return decide(usage, { tests: new TestsRepository(trx), quotas: new WorkspaceQuotasRepository(trx) });
    });
  }

  /**
   * Workspaces whose queued counter is not their number of `queued` tests (empty when the
   * triggers kept every one): what a test asks after every path that moves tests.
   */
  async queuedCountDrift(): Promise<{ workspaceId: string; counted: number; actual: number }[]> {
    const { rows } = await sql<{ workspaceId: string; counted: number; actual: number }>`
      SELECT coalesce(c.workspace_id, t.workspace_id)::text AS "workspaceId",
        coalesce(c.queued, 0) AS counted, coalesce(t.n, 0)::int AS actual
      FROM workspace_queue_counts c
      FULL JOIN (SELECT workspace_id, count(*) AS n FROM test_queue
        WHERE status = 'queued' AND workspace_id IS NOT NULL GROUP BY workspace_id) t
        ON t.workspace_id = c.workspace_id
      WHERE coalesce(c.queued, 0) <> coalesce(t.n, 0)`.execute(this.#db);
    return rows;
  }

  /** Adds stress connection-seconds granted today to each workspace's count. */
  async chargeStress(charges: ReadonlyMap<string, number>): Promise<void> {
    if (charges.size === 0) return;
    const ids = [...charges.keys()];
    await sql`
      INSERT INTO workspace_stress_usage (workspace_id, day, connection_seconds)
      SELECT id, ${TODAY}, seconds FROM unnest(${ids}::uuid[], ${ids.map((id) => charges.get(id)!)}::bigint[])
        AS c(id, seconds)
      ON CONFLICT (workspace_id, day) DO UPDATE
        SET connection_seconds = workspace_stress_usage.connection_seconds + excluded.connection_seconds`.execute(
      this.#db,
    );
  }
}
