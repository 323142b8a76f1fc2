import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Authenticate } from '@crucible/runtime';
import { TestCacheTags } from '@crucible/cache';
import { TestCatalog } from '@crucible/contracts';
import { ApiRoutes } from '@crucible/contracts/api';
import type { ListQuery, TestView } from '@crucible/contracts/api';
import { isFinished } from '@crucible/contracts/catalog';
import { actorOf, requireActor, userOf } from '../plugins/auth.js';
import type { RouteCacheConfig } from '../plugins/cache.js';
import type { TestsService } from '../services/tests/index.js';
import type { WorkspaceAccess } from '../services/workspace-access.js';

export interface TestsRoutesOptions {
  authenticate: Authenticate;
  access: WorkspaceAccess;
  service: TestsService;
}

/** A finished test's detail: cached until the test changes again (retry, cleanup). */
const testDetailCache: RouteCacheConfig = {
  ttlMs: 5 * 60_000,
  tags: (request) => {
    const params = request.params as { jobId?: string; testId?: string };
    return [TestCacheTags.test((params.jobId ?? params.testId)!)];
  },
  when: (body) => isFinished((body as TestView).status),
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
  app.addHook('onRequest', requireActor(opts.authenticate, opts.access));

  app.route({
    ...ApiRoutes.runTest,
    config: { workspaceAction: 'test:run' },
    handler: async (request, reply) => {
      const accepted = await service.submit(
        actorOf(request),
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
    ...ApiRoutes.testTypes,
    handler: async () => ({
      types: Object.values(TestCatalog).map((entry) => ({
        type: entry.type,
        configSchema: entry.configSchema,
        metrics: [...entry.metrics],
      })),
    }),
  });

  app.route({
    ...ApiRoutes.cancelTest,
    config: { workspaceAction: 'test:cancel' },
    handler: async (request) => {
      await service.cancel(actorOf(request), request.params.testId);
      return { testId: request.params.testId, status: 'cancelled' as const };
    },
  });

  app.route({
    ...ApiRoutes.queueStatus,
    config: { workspaceAction: 'test:read', cache: queueStatusCache },
    handler: async (request) => service.queueStatus(actorOf(request)),
  });

  app.route({
    ...ApiRoutes.listTests,
    config: { workspaceAction: 'test:read', cache: testListCache },
    handler: async (request) => service.list(actorOf(request), request.query),
  });

  app.route({
    ...ApiRoutes.getTest,
    config: { workspaceAction: 'test:read', cache: testDetailCache },
    handler: async (request) => service.detail(actorOf(request), request.params.jobId),
  });

  app.route({
    ...ApiRoutes.getTestById,
    config: { workspaceAction: 'test:read', cache: testDetailCache },
    handler: async (request) => service.detail(actorOf(request), request.params.testId),
  });

  app.route({
    ...ApiRoutes.getTestArtifact,
    config: { workspaceAction: 'test:read' },
    handler: async (request, reply) => {
      const { testId, name } = request.params;
      const artifact = await service.artifact(actorOf(request), testId, name);
      return reply
        .type(artifact.contentType)
        .header('cache-control', 'private, max-age=3600')
        .header('x-content-type-options', 'nosniff')
        .send(artifact.data);
    },
  });

  app.route({
    ...ApiRoutes.rerunTest,
    config: { workspaceAction: 'test:run' },
    handler: async (request, reply) =>
      reply.code(202).send(await service.rerunAsNew(actorOf(request), request.params.testId)),
  });

  app.route({
    ...ApiRoutes.retryTest,
    config: { workspaceAction: 'test:retry' },
    handler: async (request, reply) =>
      reply.code(202).send(await service.retry(actorOf(request), request.params.jobId)),
  });

  app.route({
    ...ApiRoutes.cleanupTests,
    config: { workspaceAction: 'test:cleanup' },
    handler: async (request) => ({
      deleted: await service.cleanup(
        actorOf(request),
        request.query.olderThan ?? 24,
        request.query.all ?? false,
      ),
    }),
  });
};
