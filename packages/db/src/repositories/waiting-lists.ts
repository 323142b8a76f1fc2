import { sql } from 'kysely';
import type { RawBuilder } from 'kysely';

/** `flight`'s key of the list of tests without a workspace (no workspace has the nil id). */
const NO_WORKSPACE = sql`'00000000-0000-0000-0000-000000000000'::uuid`;

/**
 * The common table expressions of the fair order's waiting lists, shared by the dispatcher
 * (`TestDispatchRepository.waitingLists`) and a queued test's place (`TestsRepository.queueSnapshots`),
 * so that both see the same lists and the same tests in flight: `lists` finds the workspaces with
 * waiting tests by a loose index scan of `test_queue_waiting` (one probe per workspace, however long
 * its list), `every_list` adds the list of tests without a workspace when there is one, and `flight`
 * counts each list's released, unfinished tests (keyed by `list`: join it with {@link flightOf}).
 * Used as `WITH RECURSIVE ${WAITING_LISTS}, …`.
 */
export const WAITING_LISTS = sql`
  lists AS (
    (SELECT workspace_id FROM test_queue
      WHERE status = 'queued' AND dispatched_at IS NULL AND workspace_id IS NOT NULL
      ORDER BY workspace_id LIMIT 1)
    UNION ALL
    SELECT (SELECT q.workspace_id FROM test_queue q
             WHERE q.status = 'queued' AND q.dispatched_at IS NULL AND q.workspace_id > lists.workspace_id
             ORDER BY q.workspace_id LIMIT 1)
      FROM lists WHERE lists.workspace_id IS NOT NULL
  ),
  every_list AS (
    SELECT workspace_id FROM lists WHERE workspace_id IS NOT NULL
    UNION ALL
    SELECT NULL WHERE EXISTS (SELECT 1 FROM test_queue
      WHERE status = 'queued' AND dispatched_at IS NULL AND workspace_id IS NULL)
  ),
  flight AS (
    SELECT coalesce(workspace_id, ${NO_WORKSPACE}) AS list, count(*)::int AS n FROM test_queue
     WHERE status IN ('queued', 'running') AND dispatched_at IS NOT NULL
       AND (workspace_id IN (SELECT workspace_id FROM every_list)
            OR (workspace_id IS NULL AND EXISTS (SELECT 1 FROM every_list WHERE workspace_id IS NULL)))
     GROUP BY 1
  )`;

/**
 * `flight`'s row of the list of `workspace` (a column or expression that may be null): joined as
 * `LEFT JOIN flight f ON ${flightOf(sql\`l.workspace_id\`)}`. A plain `f.workspace_id = l.workspace_id`
 * never matched the list without a workspace, whose tests in flight then went uncounted.
 */
export function flightOf(workspace: RawBuilder<unknown>) {
  return sql`f.list = coalesce(${workspace}, ${NO_WORKSPACE})`;
}

/**
 * The first `limit` waiting tests of one list (`list`: a workspace id, or null for the tests without
 * a workspace) in the fair order, as a LATERAL subquery's body: `columns` of `test_queue q` where
 * `filter` holds too. Written as two branches, one for each kind of list, because the single
 * condition `q.workspace_id = list OR (both null)` made PostgreSQL read the whole list from the
 * table and sort it (a bitmap scan: 50 rows per workspace on the growth database where 20 were
 * asked); each branch is an ordered read of `test_queue_waiting` that stops at `limit`, and the one
 * not for this list costs nothing (its condition on `list` is checked once). `limit` may be `ALL`
 * (a count of the tests before one: the filter bounds the read).
 */
export function listHeads(
  list: RawBuilder<unknown>,
  columns: RawBuilder<unknown>,
  filter: RawBuilder<unknown>,
  limit: RawBuilder<unknown>,
) {
  return sql`
    (SELECT ${columns} FROM test_queue q
      WHERE q.status = 'queued' AND q.dispatched_at IS NULL AND q.workspace_id = ${list} AND ${filter}
      ORDER BY q.priority DESC, q.id LIMIT ${limit})
    UNION ALL
    (SELECT ${columns} FROM test_queue q
      WHERE q.status = 'queued' AND q.dispatched_at IS NULL AND q.workspace_id IS NULL AND ${list} IS NULL
        AND ${filter}
      ORDER BY q.priority DESC, q.id LIMIT ${limit})`;
}
