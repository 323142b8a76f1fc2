import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { generateApiKey, hashApiKey } from '@crucible/shared';
import type { TicketStore } from '@crucible/shared';
import type { ApiKeysRepository, Authenticate, User, UsersRepository } from '@crucible/db';
import { HttpProblem } from '../errors.js';
import { requireUser, userOf } from '../plugins/auth.js';
import type { AuthThrottle } from '../services/auth-throttle.js';
import { invitationTokenHash } from '../services/invitations.js';
import { passwordProblem } from '../services/password-policy.js';
import { dummyHash, hashPassword, verifyPassword } from '../services/passwords.js';
import type { StartSession } from '../services/sessions.js';
import { ApiRoutes } from '@crucible/shared/api';
import type { RegistrationMode } from '@crucible/shared/api';

export interface AuthRoutesOptions {
  users: UsersRepository;
  apiKeys: ApiKeysRepository;
  authenticate: Authenticate;
  tickets: TicketStore;
  throttle: AuthThrottle;
  /** Who may register; undefined: anyone until the first account exists, then invitations only. */
  registration?: RegistrationMode;
  startSession: StartSession;
}

const view = (u: Pick<User, 'id' | 'email' | 'role'>) => ({ id: u.id, email: u.email, role: u.role });

export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, opts) => {
  const { users, apiKeys, startSession } = opts;

  const registrationMode = async (): Promise<RegistrationMode> =>
    opts.registration ?? ((await users.any()) ? 'invite' : 'open');

  app.route({
    ...ApiRoutes.registration,
    handler: async () => ({ mode: await registrationMode() }),
  });

  app.route({
    ...ApiRoutes.register,
    handler: async (request, reply) => {
      await opts.throttle.register(request.ip);
      const mode = await registrationMode();
      const invitation = request.body.invitation;
      if (mode === 'closed') {
        throw new HttpProblem(
          403,
          'REGISTRATION_CLOSED',
          'Forbidden',
          'Registration is closed on this server',
        );
      }
      if (mode === 'invite' && !invitation) {
        throw new HttpProblem(
          403,
          'INVITATION_REQUIRED',
          'Forbidden',
          'Registration on this server needs an invitation from an administrator',
        );
      }
      const email = request.body.email.trim().toLowerCase();
      const weak = await passwordProblem(request.body.password, [
        email,
        ...email.split(/[@.+_-]/),
        'crucible',
      ]);
      if (weak) throw new HttpProblem(400, 'WEAK_PASSWORD', 'Bad Request', weak);
      const passwordHash = await hashPassword(request.body.password);
      const created =
        mode === 'invite'
          ? await users.createInvited(email, passwordHash, invitationTokenHash(invitation!))
          : ((await users.create(email, passwordHash)) ?? 'EMAIL_TAKEN');
      if (created === 'INVITATION_INVALID') {
        throw new HttpProblem(
          403,
          'INVITATION_INVALID',
          'Forbidden',
          'This invitation is unknown, used, revoked, expired or meant for another email',
        );
      }
      if (created === 'EMAIL_TAKEN')
        throw new HttpProblem(409, 'EMAIL_TAKEN', 'Conflict', 'An account with this email already exists');
      const user = created;
      return reply.code(201).send({ user: view(user), token: await startSession(user, request) });
    },
  });

  app.route({
    ...ApiRoutes.login,
    handler: async (request) => {
      const email = request.body.email.trim().toLowerCase();
      const attempt = await opts.throttle.beginLogin(email, request.ip);
      const user = await users.findByEmail(email);
      const ok = await verifyPassword(request.body.password, user?.password_hash ?? (await dummyHash()));
      if (!user || !ok) {
        throw new HttpProblem(401, 'INVALID_CREDENTIALS', 'Unauthorized', 'Email or password is wrong');
      }
      await attempt.succeeded();
      return { user: view(user), token: await startSession(user, request) };
    },
  });

  await app.register(async (scope) => {
    const authed = scope.withTypeProvider<TypeBoxTypeProvider>();
    authed.addHook('onRequest', requireUser(opts.authenticate));

    authed.route({ ...ApiRoutes.me, handler: async (request) => view(userOf(request)) });

    authed.route({
      ...ApiRoutes.wsTicket,
      handler: async (request, reply) => {
        const user = userOf(request);
        const issued = await opts.tickets.issue({
          userId: user.id,
          email: user.email,
          role: user.role,
          ...(user.apiKeyId ? { apiKeyId: user.apiKeyId } : {}),
          ...(user.sessionId ? { sessionId: user.sessionId } : {}),
        });
        return reply.code(201).send({ ticket: issued.ticket, expiresInMs: issued.expiresInMs });
      },
    });

    authed.route({
      ...ApiRoutes.createApiKey,
      handler: async (request, reply) => {
        await opts.throttle.createApiKey(userOf(request).id);
        const key = generateApiKey();
        const row = await apiKeys.create(
          userOf(request).id,
          request.body.name,
          hashApiKey(key),
          key.slice(0, 10),
        );
        return reply.code(201).send({ id: row.id, name: row.name, key });
      },
    });

    authed.route({
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

    authed.route({
      ...ApiRoutes.revokeApiKey,
      handler: async (request, reply) => {
        const revoked = await apiKeys.revoke(userOf(request).id, request.params.id);
        if (!revoked) throw new HttpProblem(404, 'NOT_FOUND', 'Not Found', 'API key not found');
        // At once here; other api processes within the authenticator's cache TTL.
        opts.authenticate.forget({ apiKeyId: request.params.id });
        return reply.code(204).send(null);
      },
    });
  });
};
