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

/** Decides, per message, whether one reader of an authorised channel receives it. */
export type MessageFilter = (reader: Reader, message: { userId: string | null }) => boolean;

export type AccessDecision =
  | { allowed: true; filter?: MessageFilter }
  | { allowed: false; code: 'FORBIDDEN' | 'BAD_REQUEST'; detail: string };

type SubscribeRule = (
  reader: Reader,
  params: Record<string, string>,
  tests: TestOwnership,
) => Promise<boolean> | boolean;

interface ChannelRule {
  /** Who may subscribe at all. */
  subscribe: SubscribeRule;
  /** On channels that mix several users' messages: which of them a reader gets (admins get all). */
  filter?: MessageFilter;
}

const isAdmin = (reader: Reader) => reader.role === 'admin';
const anySignedIn: SubscribeRule = () => true;
const adminOnly: SubscribeRule = (reader) => isAdmin(reader);
const testOwner =
  (param: string): SubscribeRule =>
  async (reader, params, tests) => {
    if (isAdmin(reader)) return true;
    const owner = await tests.ownerOf(params[param]!);
    return owner !== null && owner.userId === reader.id;
  };
/** Messages about the reader's own tests (or own account) only. */
const ownMessages: MessageFilter = (reader, message) => isAdmin(reader) || message.userId === reader.id;
/** Aggregates (no user) for everyone; a message about one user's job only for that user. */
const aggregatesAndOwn: MessageFilter = (reader, message) =>
  message.userId === null || ownMessages(reader, message);

/** The one authorisation rule of every channel template; a template without a rule does not compile. */
const rules: Record<ChannelTemplate, ChannelRule> = {
  [Channels.TEST_PROGRESS]: { subscribe: testOwner('testId') },
  [Channels.STRESS_TEST]: { subscribe: testOwner('testId') },
  // A job id is the test id (DESIGN.md, "HTTP API").
  [Channels.JOB_STATUS]: { subscribe: testOwner('jobId') },
  [Channels.USER_NOTIFICATIONS]: {
    subscribe: (reader, params) => isAdmin(reader) || params.userId === reader.id,
  },
  [Channels.TEST_UPDATES]: { subscribe: anySignedIn, filter: ownMessages },
  [Channels.TEST_HISTORY_UPDATES]: { subscribe: anySignedIn, filter: ownMessages },
  [Channels.QUEUE_UPDATES]: { subscribe: anySignedIn, filter: aggregatesAndOwn },
  // Presence: a user sees their own sessions come and go; an admin sees everyone's.
  [Channels.USER_ACTIVITY]: { subscribe: anySignedIn, filter: ownMessages },
  [Channels.SYSTEM_ALERTS]: { subscribe: anySignedIn },
  [Channels.SYSTEM_MAINTENANCE]: { subscribe: anySignedIn },
  // Teams and shared projects do not exist yet: until they do, nobody but an admin is a member.
  [Channels.TEAM]: { subscribe: adminOnly },
  [Channels.SHARED_TESTS]: { subscribe: adminOnly },
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
    const rule = rules[parsed.template];
    if (!(await rule.subscribe(reader, parsed.params, tests))) return FORBIDDEN;
    // Admins read everything: no per-message work for them.
    return rule.filter && !isAdmin(reader) ? { allowed: true, filter: rule.filter } : { allowed: true };
  };
}
