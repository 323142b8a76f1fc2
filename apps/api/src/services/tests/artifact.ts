import type { Actor } from '../workspace-access.js';
import type { StoredArtifact, TestArtifactsRepository, TestsRepository } from '@crucible/db';
import { notFound } from '../../errors.js';

export interface ArtifactDeps {
  tests: Pick<TestsRepository, 'findVisible'>;
  artifacts: Pick<TestArtifactsRepository, 'get'>;
}

export function createArtifact(deps: ArtifactDeps) {
  /** A file kept beside a test (a browser test's screenshot, frames, report), to whoever may see the test; 404 otherwise. */
  return async function artifact(user: Actor, testId: string, name: string): Promise<StoredArtifact> {
    if (!(await deps.tests.findVisible(testId, user))) throw notFound();
    const found = await deps.artifacts.get(testId, name);
    if (!found) throw notFound();
    return found;
  };
}
