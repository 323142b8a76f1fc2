import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Authenticate } from '@crucible/db';
import { ApiRoutes } from '@crucible/shared/api';
import type { TestView } from '@crucible/shared/api';
import { TestCacheTags } from '@crucible/shared/cache';
import { requireUser, userOf } from '../plugins/auth.js';
import type { RouteCacheConfig } from '../plugins/cache.js';
import type { TestsService } from '../services/tests.service.js';

export interface TestsRoutesOptions {
  authenticate: Authenticate;
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
  const { service } = opts;
  app.addHook('onRequest', requireUser(opts.authenticate));

  app.route({
    ...ApiRoutes.runTest,
    handler: async (request, reply) => {
      const accepted = await service.submit(
        userOf(request),
        request.body,
        request.headers['idempotency-key'],
      );
      if (accepted.replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(202).send({
        testId: accepted.testId,
        status: accepted.status,
        queuePosition: accepted.queuePosition,
        etaSeconds: accepted.etaSeconds,
      });
    },
  });

  app.route({
    ...ApiRoutes.cancelTest,
    handler: async (request) => {
      await service.cancel(userOf(request), request.params.testId);
      return { testId: request.params.testId, status: 'cancelled' as const };
    },
  });

  app.route({
    ...ApiRoutes.queueStatus,
    handler: async (request) => service.queueStatus(userOf(request)),
  });

  app.route({
    ...ApiRoutes.listTests,
    handler: async (request) => service.list(userOf(request), request.query),
  });

  app.route({
    ...ApiRoutes.getTest,
    config: { cache: testDetailCache },
    handler: async (request) => service.detail(userOf(request), request.params.jobId),
  });

  app.route({
    ...ApiRoutes.retryTest,
    handler: async (request, reply) =>
      reply.code(202).send(await service.retry(userOf(request), request.params.jobId)),
  });

  app.route({
    ...ApiRoutes.cleanupTests,
    handler: async (request) => ({
      deleted: await service.cleanup(
        userOf(request),
        request.query.olderThan ?? 24,
        request.query.all ?? false,
      ),
    }),
  });
};
