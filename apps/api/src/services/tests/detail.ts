import type { Actor } from '../workspace-access.js';
import type { TestAttemptsRepository, TestsRepository } from '@crucible/db';
import type { TestDetail } from '@crucible/contracts/api';
import { notFound } from '../../errors.js';
import type { Standing } from './standing.js';
import { toAttemptView, toTestView } from './views.js';

export interface DetailDeps {
  tests: Pick<TestsRepository, 'findVisible' | 'rerunsOf'>;
  attempts: Pick<TestAttemptsRepository, 'attemptsOf'>;
  standing: Pick<Standing, 'explain' | 'stalledAfterMs'>;
}

export function createDetail(deps: DetailDeps) {
  const { tests, attempts, standing } = deps;

  /** One test as its page shows it: where it stands, why it waits, its attempts and re-runs. */
  return async function detail(user: Actor, testId: string): Promise<TestDetail> {
    const row = await tests.findVisible(testId, user);
    if (!row) throw notFound();
    const [where, history, reruns] = await Promise.all([
      standing.explain(row),
      attempts.attemptsOf(testId),
      tests.rerunsOf(testId, user),
    ]);
    return {
      ...toTestView(row),
      ...where,
      // An open page that hears nothing for this long asks again, to say "stalled" by itself.
      stalledAfterMs: standing.stalledAfterMs,
      attempts: history.map(toAttemptView),
      reruns,
    };
  };
}
