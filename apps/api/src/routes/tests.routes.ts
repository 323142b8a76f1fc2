import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Authenticate } from '@crucible/db';
import { ApiRoutes } from '@crucible/shared/api';
import type { ListQuery, TestView } from '@crucible/shared/api';
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
  tags: (request) => {
    const params = request.params as { jobId?: string; testId?: string };
    return [TestCacheTags.test((params.jobId ?? params.testId)!)];
  },
  when: (body) => FINISHED.has((body as TestView).status),
};

/**
 * A page of tests, per user and per query string (filters, cursor, limit): dropped by any status
 * change, creation, cancel, retry or deletion of a test it can show. A user's own list (or an
 * admin's `?userId=`) is tagged with that owner; an admin's list of everyone's tests (or of an
 * `?owner=` email) with `tests:all`, which every test's change invalidates. Progress does not invalidate: the TTL bounds
 * how old a running test's `progress` in a cached page can be (live progress is on the WebSocket).
 */
export const testListCache: RouteCacheConfig = {
  ttlMs: 5_000,
  tags: (request) => {
    const user = userOf(request);
    const { userId } = request.query as ListQuery;
    if (user.role !== 'admin') return [TestCacheTags.owner(user.id)];
    // `?owner=` names a user by email, whose id is not known here: everyone's changes drop it.
    return [userId ? TestCacheTags.owner(userId) : TestCacheTags.all];
  },
};

/**
 * The caller's counts by status and the queue's: dropped by any change of one of the caller's
 * tests, so `user` is never stale. `queue` (every user's jobs, the live workers) is not invalidated
 * by other users' changes — that would drop every user's entry on every change anywhere — and may
 * be up to the TTL old; BullMQ's own counts lag the test events anyway (a job is moved to
 * completed after its `test:completed` is out).
 */
export const queueStatusCache: RouteCacheConfig = {
  ttlMs: 2_000,
  tags: (request) => [TestCacheTags.owner(userOf(request).id)],
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
    config: { cache: queueStatusCache },
    handler: async (request) => service.queueStatus(userOf(request)),
  });

  app.route({
    ...ApiRoutes.listTests,
    config: { cache: testListCache },
    handler: async (request) => service.list(userOf(request), request.query),
  });

  app.route({
    ...ApiRoutes.getTest,
    config: { cache: testDetailCache },
    handler: async (request) => service.detail(userOf(request), request.params.jobId),
  });

  app.route({
    ...ApiRoutes.getTestById,
    config: { cache: testDetailCache },
    handler: async (request) => service.detail(userOf(request), request.params.testId),
  });

  app.route({
    ...ApiRoutes.rerunTest,
    handler: async (request, reply) =>
      reply.code(202).send(await service.rerunAsNew(userOf(request), request.params.testId)),
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
