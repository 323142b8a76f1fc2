import { randomUUID } from 'node:crypto';
import { Channels, Events } from '@crucible/contracts';
import type { Allowlist } from '@crucible/egress';
import type { Actor } from '../workspace-access.js';
import type { TestsRepository } from '@crucible/db';
import { HttpProblem, notFound } from '../../errors.js';
import type { Publish } from './events.js';
import type { SubmitCommitter } from './submit/committer.js';
import { validateConfig, validateTargetUrl } from './validation.js';

export interface RerunDeps {
  tests: Pick<TestsRepository, 'findVisible'>;
  committer: SubmitCommitter;
  publish: Publish;
  /** Private hosts/ranges tests may target (`TARGET_ALLOWLIST`). @defaultValue none */
  targetAllowlist?: Allowlist;
}

export function createRerunAsNew(deps: RerunDeps) {
  /**
   * "Run again": a finished test's type, URL, config, name and priority submitted as a NEW test of
   * the caller's that points back at it (`rerunOf`), so both results stay and can be compared.
   * The URL and config are checked again as at submission (the allowlist may have changed).
   */
  return async function rerunAsNew(user: Actor, testId: string) {
    const original = await deps.tests.findVisible(testId, user);
    if (!original) throw notFound();
    if (original.status === 'queued' || original.status === 'running') {
      throw new HttpProblem(
        409,
        'TEST_NOT_FINISHED',
        'Conflict',
        'The test is still queued or running; run it again once it has finished',
      );
    }
    const url = validateTargetUrl(original.url, deps.targetAllowlist);
    const config = validateConfig(original.test_type, original.config);
    // A re-run is a submission: the flush holds it to the workspace's quotas, as any.
    const outcome = await deps.committer.submit({
      testId: randomUUID(),
      testType: original.test_type,
      testName: original.test_name,
      url,
      config,
      priority: original.priority,
      userId: user.id,
      workspaceId: user.workspaceId,
      rerunOf: original.test_id,
      judging: original.judging,
    });
    if (!outcome.created) throw new Error('a re-run without an idempotency key was not created');
    // The original's page lists its re-runs: its cached detail goes.
    await deps.publish(
      Events.TEST_RECORD_UPDATED,
      Channels.TEST_HISTORY_UPDATES,
      { testId: original.test_id, rerunBy: outcome.row.test_id },
      original.user_id,
    );
    return {
      testId: outcome.row.test_id,
      rerunOf: original.test_id,
      status: outcome.row.status,
      queuePosition: outcome.queuePosition,
      etaSeconds: outcome.etaSeconds,
    };
  };
}
