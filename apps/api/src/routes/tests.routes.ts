import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Authenticate, TestsRepository } from '@crucible/db';
import { notFound } from '../errors.js';
import { requireUser, userOf } from '../plugins/auth.js';
import { ApiRoutes } from '@crucible/shared/api';
import { toTestView } from '../services/tests.service.js';
import type { TestsService } from '../services/tests.service.js';

export interface TestsRoutesOptions {
  authenticate: Authenticate;
  tests: TestsRepository;
  service: TestsService;
}

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
    handler: async (request) => {
      const row = await opts.tests.findVisible(request.params.jobId, userOf(request));
      if (!row) throw notFound();
      return toTestView(row);
    },
  });
};
