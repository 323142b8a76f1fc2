import { Channels, parseChannel } from '@crucible/shared';
import type { ChannelTemplate, Role } from '@crucible/shared';

/** Who is asking: the authenticated user of a socket. */
export interface Reader {
  id: string;
  role: Role;
}

/** What authorisation needs to know about tests (`TestsRepository` satisfies it). */
export interface TestOwnership {
  ownerOf(testId: string): Promise<{ userId: string | null } | null>;
}

export type AccessDecision =
  { allowed: true } | { allowed: false; code: 'FORBIDDEN' | 'BAD_REQUEST'; detail: string };

type Rule = (
  reader: Reader,
  params: Record<string, string>,
  tests: TestOwnership,
) => Promise<boolean> | boolean;

const isAdmin = (reader: Reader) => reader.role === 'admin';
const anySignedIn: Rule = () => true;
// Channels that mix several users' data: only admins until per-message filtering exists.
const adminOnly: Rule = (reader) => isAdmin(reader);
const testOwner =
  (param: string): Rule =>
  async (reader, params, tests) => {
    if (isAdmin(reader)) return true;
    const owner = await tests.ownerOf(params[param]!);
    return owner !== null && owner.userId === reader.id;
  };

/** The one authorisation rule of every channel template; a template without a rule does not compile. */
const rules: Record<ChannelTemplate, Rule> = {
  [Channels.TEST_PROGRESS]: testOwner('testId'),
  [Channels.STRESS_TEST]: testOwner('testId'),
  // A job id is the test id (DESIGN.md, "HTTP API").
  [Channels.JOB_STATUS]: testOwner('jobId'),
  [Channels.USER_NOTIFICATIONS]: (reader, params) => isAdmin(reader) || params.userId === reader.id,
  [Channels.QUEUE_UPDATES]: anySignedIn,
  [Channels.SYSTEM_ALERTS]: anySignedIn,
  [Channels.SYSTEM_MAINTENANCE]: anySignedIn,
  [Channels.TEST_UPDATES]: adminOnly,
  [Channels.TEST_HISTORY_UPDATES]: adminOnly,
  [Channels.USER_ACTIVITY]: adminOnly,
  [Channels.TEAM]: adminOnly,
  [Channels.SHARED_TESTS]: adminOnly,
};

/**
 * The same refusal whether the test exists or not, so a subscribe can never be used to probe
 * for other users' test ids.
 */
const FORBIDDEN: AccessDecision = {
  allowed: false,
  code: 'FORBIDDEN',
  detail: 'not allowed to read this channel',
};

export type ChannelAuthorizer = (reader: Reader, channel: string) => Promise<AccessDecision>;

export function createChannelAccess(tests: TestOwnership): ChannelAuthorizer {
  return async function authorize(reader, channel) {
    const parsed = parseChannel(channel);
    if (!parsed) return { allowed: false, code: 'BAD_REQUEST', detail: 'unknown channel' };
    return (await rules[parsed.template](reader, parsed.params, tests)) ? { allowed: true } : FORBIDDEN;
  };
}
