import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { roleAtLeast } from '@crucible/contracts';
import { ApiRoutes } from '@crucible/contracts/api';
import type { Authenticate } from '@crucible/runtime';
import { generateApiKey, hashApiKey } from '@crucible/runtime';
import type { ApiKeysRepository } from '@crucible/db';
import { HttpProblem } from '../errors.js';
import { requireUser, userOf } from '../plugins/auth.js';
import { AuditActions } from '../services/audit.js';
import type { Audit } from '../services/audit.js';
import type { AuthThrottle } from '../services/auth-throttle.js';
import type { WorkspaceAccess } from '../services/workspace-access.js';

export interface ApiKeysRoutesOptions {
  authenticate: Authenticate;
  access: WorkspaceAccess;
  apiKeys: ApiKeysRepository;
  throttle: Pick<AuthThrottle, 'createApiKey'>;
  /** Keys made and revoked are recorded in their workspace's audit log. */
  audit: Audit;
}

/**
 * The caller's API keys: a new key is shown once and stored hashed; a revoked one is refused at
 * once by this process and within the authenticator's cache TTL by the others.
 */
export const apiKeysRoutes: FastifyPluginAsyncTypebox<ApiKeysRoutesOptions> = async (app, opts) => {
  const { apiKeys, authenticate } = opts;
  app.addHook('onRequest', requireUser(authenticate));

  app.route({
    ...ApiRoutes.createApiKey,
    handler: async (request, reply) => {
      // A key acts in the request's workspace, with a role no higher than its creator's there.
      const actor = await opts.access.actorOf(request, userOf(request), 'apiKey:create');
      const role = request.body.role ?? actor.workspaceRole;
      if (!roleAtLeast(actor.workspaceRole, role)) {
        throw new HttpProblem(
          403,
          'FORBIDDEN_ROLE',
          'Forbidden',
          `a key's role cannot be above yours (${actor.workspaceRole})`,
        );
      }
      await opts.throttle.createApiKey(actor.id);
      const key = generateApiKey();
      const row = await apiKeys.create(actor.id, request.body.name, hashApiKey(key), key.slice(0, 10), {
        workspaceId: actor.workspaceId,
        role,
      });
      await opts.audit(
        actor,
        actor.workspaceId,
        AuditActions.API_KEY_CREATED,
        { type: 'api_key', id: row.id },
        {
          name: row.name,
          role,
        },
      );
      return reply.code(201).send({ id: row.id, name: row.name, key });
    },
  });

  app.route({
    ...ApiRoutes.listApiKeys,
    handler: async (request) => {
      const keys = await apiKeys.listForUser(userOf(request).id);
      return keys.map((k) => ({
        id: k.id,
        name: k.name,
        prefix: k.key_prefix,
        createdAt: k.created_at.toISOString(),
        lastUsedAt: k.last_used_at?.toISOString() ?? null,
      }));
    },
  });

  app.route({
    ...ApiRoutes.revokeApiKey,
    handler: async (request, reply) => {
      const user = userOf(request);
      const revoked = await apiKeys.revokeKey(user.id, request.params.id);
      if (!revoked) throw new HttpProblem(404, 'NOT_FOUND', 'Not Found', 'API key not found');
      // At once here; other api processes within the authenticator's cache TTL.
      authenticate.forget({ apiKeyId: request.params.id });
      if (revoked.workspace_id) {
        await opts.audit(
          user,
          revoked.workspace_id,
          AuditActions.API_KEY_REVOKED,
          {
            type: 'api_key',
            id: request.params.id,
          },
          { name: revoked.name },
        );
      }
      return reply.code(204).send(null);
    },
  });
};
