import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Authenticate, TestsRepository } from '@crucible/db';
import { notFound } from '../errors.js';
import { requireUser, userOf } from '../plugins/auth.js';
import { Problem, RunTestAccepted, RunTestBody, TestIdParams, TestView } from '../schemas.js';
import { toTestView } from '../services/tests.service.js';
import type { TestsService } from '../services/tests.service.js';

export interface TestsRoutesOptions {
  authenticate: Authenticate;
  tests: TestsRepository;
  service: TestsService;
}

export const testsRoutes: FastifyPluginAsyncTypebox<TestsRoutesOptions> = async (app, opts) => {
  app.addHook('onRequest', requireUser(opts.authenticate));

  app.post(
    '/api/test/run',
    { schema: { body: RunTestBody, response: { 202: RunTestAccepted, 400: Problem, 503: Problem } } },
    async (request, reply) => {
      const accepted = await opts.service.submit(userOf(request), request.body);
      return reply
        .code(202)
        .send({ testId: accepted.testId, status: 'queued', queuePosition: accepted.queuePosition });
    },
  );

  app.get(
    '/api/test/queue/jobs/:jobId',
    { schema: { params: TestIdParams, response: { 200: TestView, 404: Problem } } },
    async (request) => {
      const row = await opts.tests.findVisible(request.params.jobId, userOf(request));
      if (!row) throw notFound();
      return toTestView(row);
    },
  );
};
