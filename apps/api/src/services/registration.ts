import type { RegisterBody, RegistrationMode } from '@crucible/contracts/api';
import type { User, UsersRepository } from '@crucible/db';
import { HttpProblem } from '../errors.js';
import type { Audit } from './audit.js';
import type { Publish } from './tests/events.js';
import { announceJoined } from './workspaces.js';
import type { AuthThrottle } from './auth-throttle.js';
import { invitationTokenHash } from './invitations.js';
import { passwordProblem } from './password-policy.js';
import { hashPassword } from './passwords.js';

export interface RegistrationDeps {
  users: UsersRepository;
  throttle: Pick<AuthThrottle, 'register'>;
  /** Who may register; undefined: anyone until the first account exists, then invitations only. */
  mode?: RegistrationMode;
  /** Joining a workspace by registering with its invitation is recorded in its audit log… */
  audit: Audit;
  /** …and announced on its `team-{workspaceId}` channel, as accepting one signed in is. */
  publish: Publish;
}

export interface Registration {
  /** Who may register now. */
  mode(): Promise<RegistrationMode>;
  /**
   * Creates the account `body` asks for, from the client at `ip`: throttled per address, allowed
   * by the mode (with an invitation when it asks for one), with a password that is not easy to guess.
   */
  register(body: RegisterBody, ip: string): Promise<User>;
}

/** Why `mode` turns a registration away before anything else is looked at, or null. */
function admissionProblem(mode: RegistrationMode, invitation: string | undefined): HttpProblem | null {
  if (mode === 'closed')
    return new HttpProblem(403, 'REGISTRATION_CLOSED', 'Forbidden', 'Registration is closed on this server');
  if (mode === 'invite' && !invitation)
    return new HttpProblem(
      403,
      'INVITATION_REQUIRED',
      'Forbidden',
      'Registration on this server needs an invitation from an administrator',
    );
  return null;
}

/** The account made, or the problem that kept it from being made. */
function createdOrThrow<U extends User>(created: U | 'EMAIL_TAKEN' | 'INVITATION_INVALID'): U {
  if (created === 'INVITATION_INVALID')
    throw new HttpProblem(
      403,
      'INVITATION_INVALID',
      'Forbidden',
      'This invitation is unknown, used, revoked, expired or meant for another email',
    );
  if (created === 'EMAIL_TAKEN')
    throw new HttpProblem(409, 'EMAIL_TAKEN', 'Conflict', 'An account with this email already exists');
  return created;
}

export function createRegistration(deps: RegistrationDeps): Registration {
  const { users, throttle } = deps;
  const mode = async (): Promise<RegistrationMode> => deps.mode ?? ((await users.any()) ? 'invite' : 'open');
  return {
    mode,
    async register(body, ip) {
      await throttle.register(ip);
      const current = await mode();
      const refused = admissionProblem(current, body.invitation);
      if (refused) throw refused;
      const email = body.email.trim().toLowerCase();
      const weak = await passwordProblem(body.password, [email, ...email.split(/[@.+_-]/), 'crucible']);
      if (weak) throw new HttpProblem(400, 'WEAK_PASSWORD', 'Bad Request', weak);
      const passwordHash = await hashPassword(body.password);
      // An invitation is used whenever one is sent: a workspace's makes its holder a member.
      if (current !== 'invite' && body.invitation === undefined)
        return createdOrThrow((await users.create(email, passwordHash)) ?? 'EMAIL_TAKEN');
      const { joined, ...user } = createdOrThrow(
        await users.createInvited(email, passwordHash, invitationTokenHash(body.invitation!)),
      );
      if (joined) await announceJoined(deps, user, joined, true);
      return user;
    },
  };
}
