import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Authenticate, TestsRepository } from '@crucible/db';
import { notFound } from '../errors.js';
import { requireUser, userOf } from '../plugins/auth.js';
import { ApiRoutes } from '@crucible/shared/api';
import type { TestView } from '@crucible/shared/api';
import { TestCacheTags } from '@crucible/shared/cache';
import type { RouteCacheConfig } from '../plugins/cache.js';
import { toTestView } from '../services/tests.service.js';
import type { TestsService } from '../services/tests.service.js';

export interface TestsRoutesOptions {
  authenticate: Authenticate;
  tests: TestsRepository;
  service: TestsService;
}

const FINISHED = new Set(['completed', 'failed', 'cancelled']);

/** A finished test's detail: cached until the test changes again (retry, cleanup). */
const testDetailCache: RouteCacheConfig = {
  ttlMs: 5 * 60_000,
  tags: (request) => [TestCacheTags.test((request.params as { jobId: string }).jobId)],
  when: (body) => FINISHED.has((body as TestView).status),
};

export const testsRoutes: FastifyPluginAsyncTypebox<TestsRoutesOptions> = async (app, opts) => {
  app.addHook('onRequest', requireUser(opts.authenticate));

  app.route({
    ...ApiRoutes.runTest,
    handler: async (request, reply) => {
      const accepted = await opts.service.submit(userOf(request), request.body);
      return reply
        .code(202)
        .send({ testId: accepted.testId, status: 'queued', queuePosition: accepted.queuePosition });
    },
  });

  app.route({
    ...ApiRoutes.getTest,
    config: { cache: testDetailCache },
    handler: async (request) => {
      const row = await opts.tests.findVisible(request.params.jobId, userOf(request));
      if (!row) throw notFound();
      return toTestView(row);
    },
  });
};
