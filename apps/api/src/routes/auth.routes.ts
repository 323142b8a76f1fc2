import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { TicketStore } from '@crucible/contracts';
import { ApiRoutes } from '@crucible/contracts/api';
import type { RegistrationMode } from '@crucible/contracts/api';
import type { Authenticate } from '@crucible/runtime';
import type { User, UsersRepository } from '@crucible/db';
import { HttpProblem } from '../errors.js';
import { requireUser, userOf } from '../plugins/auth.js';
import type { AuthThrottle } from '../services/auth-throttle.js';
import { dummyHash, verifyPassword } from '../services/passwords.js';
import { createRegistration } from '../services/registration.js';
import type { Audit } from '../services/audit.js';
import type { StartSession } from '../services/sessions.js';
import type { Publish } from '../services/tests/events.js';

export interface AuthRoutesOptions {
  users: UsersRepository;
  authenticate: Authenticate;
  tickets: TicketStore;
  throttle: AuthThrottle;
  /** Who may register; undefined: anyone until the first account exists, then invitations only. */
  registration?: RegistrationMode;
  startSession: StartSession;
  /** Where joining a workspace by registering with its invitation is recorded and announced. */
  audit: Audit;
  publish: Publish;
}

const view = (u: Pick<User, 'id' | 'email' | 'role'>) => ({ id: u.id, email: u.email, role: u.role });

/** Registration, sign-in, the signed-in user and WebSocket tickets (API keys: api-keys.routes.ts). */
export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, opts) => {
  const { users, startSession } = opts;
  const registration = createRegistration({
    users,
    throttle: opts.throttle,
    mode: opts.registration,
    audit: opts.audit,
    publish: opts.publish,
  });

  app.route({
    ...ApiRoutes.registration,
    handler: async () => ({ mode: await registration.mode() }),
  });

  app.route({
    ...ApiRoutes.register,
    handler: async (request, reply) => {
      const user = await registration.register(request.body, request.ip);
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
          ...(user.apiKeyAccess ? { apiKeyAccess: user.apiKeyAccess } : {}),
          ...(user.sessionId ? { sessionId: user.sessionId } : {}),
        });
        return reply.code(201).send({ ticket: issued.ticket, expiresInMs: issued.expiresInMs });
      },
    });
  });
};
