import { sql } from 'kysely';

/**
 * The common table expressions of the fair order's waiting lists, shared by the dispatcher
 * (`TestDispatchRepository.waitingLists`) and a queued test's place (`TestsRepository.queueSnapshots`),
 * so that both see the same lists and the same tests in flight: `lists` finds the workspaces with
 * waiting tests by a loose index scan of `test_queue_waiting` (one probe per workspace, however long
 * its list), `every_list` adds the list of tests without a workspace when there is one, and `flight`
 * counts each list's released, unfinished tests. Used as `WITH RECURSIVE ${WAITING_LISTS}, …`.
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
    SELECT workspace_id, count(*)::int AS n FROM test_queue
     WHERE status IN ('queued', 'running') AND dispatched_at IS NOT NULL
       AND workspace_id IN (SELECT workspace_id FROM every_list)
     GROUP BY workspace_id
  )`;
