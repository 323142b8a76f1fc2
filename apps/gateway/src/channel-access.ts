import { Channels, SHARE_ID_PATTERN, can, channelName, parseChannel } from '@crucible/contracts';
import { hashShareId } from '@crucible/runtime';
import type { ChannelTemplate, Role, WorkspaceAction, WorkspaceRole } from '@crucible/contracts';

/** Who is asking: the authenticated user of a socket, or the anonymous reader of one share link. */
export interface Reader {
  id: string;
  role: Role;
  /** An API key's workspace and role: it reads that workspace's channels only. */
  apiKeyAccess?: { workspaceId: string; role: WorkspaceRole };
  /** A socket opened with `?share=` and no credential: it reads that share's channel and nothing else. */
  share?: { hash: string };
}

/** Live share links (`TestSharesRepository` satisfies it). */
export interface ShareLookup {
  findActive(shareHash: string): Promise<{ id: string; testId: string; expiresAt: Date | null } | undefined>;
}

/** What authorisation needs to know about tests (`TestsRepository` satisfies it). */
export interface TestOwnership {
  ownerOf(testId: string): Promise<{ userId: string | null; workspaceId: string | null } | null>;
}

/** Who is a member of which workspace (`WorkspaceMembersRepository` satisfies it). */
export interface Memberships {
  roleOf(workspaceId: string, userId: string): Promise<WorkspaceRole | undefined>;
}

/** Decides, per message, whether one reader of an authorised channel receives it. */
export type MessageFilter = (reader: Reader, message: { userId: string | null }) => boolean;

/**
 * A share link's channel is an alias: the gateway reads the test's own progress channel and passes
 * each message on redacted, under the share's channel name.
 */
export interface SharedSource {
  /** The bus channel read: `test-progress-{testId}`. */
  channel: string;
  /** The share's hash: a revocation names it. */
  hash: string;
  /** When the share ends by itself (ms since the epoch), or null. */
  expiresAt: number | null;
}

export type AccessDecision =
  /** `workspaceId`: the channel is read by membership of it, re-checked while subscribed. */
  | { allowed: true; filter?: MessageFilter; workspaceId?: string; shared?: SharedSource }
  | { allowed: false; code: 'FORBIDDEN' | 'BAD_REQUEST'; detail: string };

/** Granted (by membership of a workspace: its id; as a share's alias), or refused (false). */
type Grant = boolean | { workspaceId: string } | { shared: SharedSource };
type SubscribeRule = (
  reader: Reader,
  params: Record<string, string>,
  stores: { tests: TestOwnership; memberships: Memberships; shares: ShareLookup | undefined },
) => Promise<Grant> | Grant;

interface ChannelRule {
  /** Who may subscribe at all. */
  subscribe: SubscribeRule;
  /** On channels that mix several users' messages: which of them a reader gets (admins get all). */
  filter?: MessageFilter;
}

const isAdmin = (reader: Reader) => reader.role === 'admin';
const anySignedIn: SubscribeRule = () => true;
/** A live share link's channel: anyone holding the link (it is the credential), signed in or not. */
const shareHolders: SubscribeRule = async (reader, params, { shares }) => {
  if (!shares || !SHARE_ID_PATTERN.test(params.shareId!)) return false;
  const hash = hashShareId(params.shareId!);
  if (reader.share && reader.share.hash !== hash) return false;
  const share = await shares.findActive(hash);
  if (!share) return false;
  return {
    shared: {
      channel: channelName(Channels.TEST_PROGRESS, { testId: share.testId }),
      hash,
      expiresAt: share.expiresAt?.getTime() ?? null,
    },
  };
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The workspace policy (`can`), as the api applies it: a member whose role allows `action`. */
async function member(
  reader: Reader,
  workspaceId: string,
  action: WorkspaceAction,
  memberships: Memberships,
): Promise<Grant> {
  if (!UUID.test(workspaceId)) return false;
  if (reader.apiKeyAccess && reader.apiKeyAccess.workspaceId !== workspaceId) return false;
  const role = await memberships.roleOf(workspaceId, reader.id);
  return role !== undefined && can(role, action) ? { workspaceId } : false;
}
/** A test's channels: members of the test's workspace (its submitter, for a test without one). */
const testReaders =
  (param: string): SubscribeRule =>
  async (reader, params, { tests, memberships }) => {
    if (isAdmin(reader)) return true;
    const owner = await tests.ownerOf(params[param]!);
    if (owner === null) return false;
    if (owner.workspaceId === null) return owner.userId === reader.id;
    return member(reader, owner.workspaceId, 'test:read', memberships);
  };
/** Messages about the reader's own tests (or own account) only. */
const ownMessages: MessageFilter = (reader, message) => isAdmin(reader) || message.userId === reader.id;
/** Aggregates (no user) for everyone; a message about one user's job only for that user. */
const aggregatesAndOwn: MessageFilter = (reader, message) =>
  message.userId === null || ownMessages(reader, message);

/** The one authorisation rule of every channel template; a template without a rule does not compile. */
const rules: Record<ChannelTemplate, ChannelRule> = {
  [Channels.TEST_PROGRESS]: { subscribe: testReaders('testId') },
  [Channels.STRESS_TEST]: { subscribe: testReaders('testId') },
  // A job id is the test id (DESIGN.md, "HTTP API").
  [Channels.JOB_STATUS]: { subscribe: testReaders('jobId') },
  [Channels.USER_NOTIFICATIONS]: {
    subscribe: (reader, params) => isAdmin(reader) || params.userId === reader.id,
  },
  [Channels.TEST_UPDATES]: { subscribe: anySignedIn, filter: ownMessages },
  [Channels.TEST_HISTORY_UPDATES]: { subscribe: anySignedIn, filter: ownMessages },
  [Channels.QUEUE_UPDATES]: { subscribe: anySignedIn, filter: aggregatesAndOwn },
  // Presence: a user sees their own sessions come and go; an admin sees everyone's.
  [Channels.USER_ACTIVITY]: { subscribe: anySignedIn, filter: ownMessages },
  // The platform's own alerts (no worker, an old queue, failing channels): its admins only.
  [Channels.SYSTEM_ALERTS]: { subscribe: isAdmin },
  [Channels.SYSTEM_MAINTENANCE]: { subscribe: anySignedIn },
  // A workspace's own channel (`team-{workspaceId}`): its members.
  [Channels.TEAM]: {
    subscribe: (reader, params, { memberships }) =>
      isAdmin(reader) || member(reader, params.teamId!, 'workspace:read', memberships),
  },
  [Channels.SHARED_TESTS]: { subscribe: shareHolders },
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

export function createChannelAccess(
  tests: TestOwnership,
  memberships: Memberships,
  shares?: ShareLookup,
): ChannelAuthorizer {
  const stores = { tests, memberships, shares };
  return async function authorize(reader, channel) {
    const parsed = parseChannel(channel);
    if (!parsed) return { allowed: false, code: 'BAD_REQUEST', detail: 'unknown channel' };
    // An anonymous share reader reads its share's channel, nothing else.
    if (reader.share && parsed.template !== Channels.SHARED_TESTS) return FORBIDDEN;
    const rule = rules[parsed.template];
    const grant = await rule.subscribe(reader, parsed.params, stores);
    if (!grant) return FORBIDDEN;
    const decision: AccessDecision = { allowed: true };
    if (typeof grant === 'object' && 'workspaceId' in grant) decision.workspaceId = grant.workspaceId;
    if (typeof grant === 'object' && 'shared' in grant) return { allowed: true, shared: grant.shared };
    // Admins read everything: no per-message work for them.
    if (rule.filter && !isAdmin(reader)) decision.filter = rule.filter;
    return decision;
  };
}
