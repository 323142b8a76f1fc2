import { Channels, Events } from '@crucible/contracts';
import type { Actor } from '../workspace-access.js';
import type { TestsRepository } from '@crucible/db';
import { HttpProblem } from '../../errors.js';
import { AuditActions } from '../audit.js';
import type { Audit } from '../audit.js';
import type { Publish } from './events.js';

export interface CleanupDeps {
  tests: Pick<TestsRepository, 'deleteFinished'>;
  publish: Publish;
  audit?: Audit;
}

export function createCleanup(deps: CleanupDeps) {
  /** Deletes finished tests older than `olderThanHours` (everyone's with `all`, admins only). */
  return async function cleanup(user: Actor, olderThanHours: number, all: boolean): Promise<number> {
    if (all && user.role !== 'admin') {
      throw new HttpProblem(403, 'FORBIDDEN', 'Forbidden', "Only admins may clean up other users' tests");
    }
    const deleted = await deps.tests.deleteFinished(all ? null : user.workspaceId, olderThanHours);
    // Each deletion is announced, which also drops the test's cached views (DESIGN.md, "Response cache").
    for (let i = 0; i < deleted.length; i += 50) {
      await Promise.all(
        deleted
          .slice(i, i + 50)
          .map((row) =>
            deps.publish(
              Events.TEST_RECORD_DELETED,
              Channels.TEST_HISTORY_UPDATES,
              { testId: row.test_id },
              row.user_id,
            ),
          ),
      );
    }
    // One entry per workspace that lost tests (an instance admin's `all` reaches several).
    const byWorkspace = new Map<string, number>();
    for (const row of deleted) {
      if (row.workspace_id) byWorkspace.set(row.workspace_id, (byWorkspace.get(row.workspace_id) ?? 0) + 1);
    }
    for (const [workspaceId, count] of byWorkspace) {
      await deps.audit?.(user, workspaceId, AuditActions.TESTS_CLEANED_UP, undefined, {
        deleted: count,
        olderThanHours,
      });
    }
    return deleted.length;
  };
}
