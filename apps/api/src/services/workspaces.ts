import { Channels, Events, can, channelName } from '@crucible/contracts';
import type { WorkspaceRole } from '@crucible/contracts';
import type { MemberView, PendingInvitationView, WorkspaceView } from '@crucible/contracts/api';
import type {
  InvitationsRepository,
  MembershipView,
  WorkspaceMembersRepository,
  WorkspacesRepository,
} from '@crucible/db';
import type { AuthUser } from '@crucible/runtime';
import { HttpProblem, notFound } from '../errors.js';
import { INVITATION_TTL_MS, invitationTokenHash, newInvitationToken } from './invitations.js';
import { AuditActions } from './audit.js';
import type { Audit } from './audit.js';
import type { Publish } from './tests/events.js';
import { forbiddenRole } from './workspace-access.js';
import type { Actor, WorkspaceAccess } from './workspace-access.js';

export interface WorkspacesServiceDeps {
  workspaces: WorkspacesRepository;
  members: WorkspaceMembersRepository;
  invitations: Pick<
    InvitationsRepository,
    'create' | 'findOpen' | 'revokeInWorkspace' | 'pendingInWorkspace'
  >;
  /** Where membership and settings changes go out, on `team-{workspaceId}`. */
  publish: Publish;
  /** Membership, invitation and settings changes are recorded in the workspace's audit log. */
  audit: Audit;
  /** Told of every role changed or taken away, so that no process acts on the old one. */
  access: Pick<WorkspaceAccess, 'forget'>;
}

export function workspaceView(row: MembershipView, userId: string): WorkspaceView {
  return {
    id: row.id,
    name: row.name,
    personal: row.personal_of === userId,
    role: row.role,
    createdAt: row.created_at.toISOString(),
  };
}

const lastOwner = () =>
  new HttpProblem(
    409,
    'LAST_OWNER',
    'Conflict',
    'A workspace keeps at least one owner: make another owner first',
  );

/**
 * Only an owner makes owners or changes an owner's membership: an admin manages members below
 * them (the policy's `member:*` actions say who manages members at all).
 */
function checkOwnerRank(actor: Actor, targetRole: WorkspaceRole | undefined, newRole?: WorkspaceRole): void {
  const touchesOwner = targetRole === 'owner' || newRole === 'owner';
  if (touchesOwner && !can(actor.workspaceRole, 'owner:manage'))
    throw forbiddenRole('owner:manage', actor.workspaceRole);
}

/** Tells the workspace's channel that a member joined, left or got another role. */
type Changed = (
  event:
    | typeof Events.WORKSPACE_MEMBER_JOINED
    | typeof Events.WORKSPACE_MEMBER_LEFT
    | typeof Events.WORKSPACE_MEMBER_ROLE_CHANGED,
  workspaceId: string,
  userId: string,
  role: WorkspaceRole | null,
) => Promise<unknown>;

/**
 * A user joined a workspace by its invitation, accepting it signed in or registering with it
 * (`registered`): recorded in its audit log and announced on `team-{workspaceId}`.
 */
export async function announceJoined(
  deps: Pick<WorkspacesServiceDeps, 'audit' | 'publish'>,
  user: Pick<AuthUser, 'id' | 'email'>,
  joined: { workspaceId: string; role: WorkspaceRole },
  registered = false,
): Promise<void> {
  await deps.audit(
    user,
    joined.workspaceId,
    AuditActions.INVITATION_ACCEPTED,
    { type: 'user', id: user.id },
    registered ? { role: joined.role, registered } : { role: joined.role },
  );
  await deps.publish(
    Events.WORKSPACE_MEMBER_JOINED,
    channelName(Channels.TEAM, { teamId: joined.workspaceId }),
    { workspaceId: joined.workspaceId, userId: user.id, role: joined.role },
    null,
  );
}

/** Inviting into a workspace and accepting an invitation. */
function invitationOps(deps: WorkspacesServiceDeps) {
  const { members, audit } = deps;
  return {
    async invite(actor: Actor, email: string, role: WorkspaceRole) {
      checkOwnerRank(actor, undefined, role);
      const token = newInvitationToken();
      const row = await deps.invitations.create({
        tokenHash: invitationTokenHash(token),
        email: email.trim().toLowerCase(),
        createdBy: actor.id,
        expiresAt: new Date(Date.now() + INVITATION_TTL_MS),
        workspace: { id: actor.workspaceId, role },
      });
      await audit(
        actor,
        actor.workspaceId,
        AuditActions.INVITATION_CREATED,
        { type: 'invitation', id: row.id },
        {
          email: row.email,
          role,
        },
      );
      return { invitationId: row.id, token, expiresAt: row.expires_at.toISOString() };
    },
    /** The actor's workspace's pending invitations, newest first (the 200 newest). */
    async pendingInvitations(actor: Actor): Promise<PendingInvitationView[]> {
      const rows = await deps.invitations.pendingInWorkspace(actor.workspaceId, 200);
      return rows.map((r) => ({
        invitationId: r.id,
        email: r.email ?? '',
        role: r.workspace_role!,
        invitedBy: r.invited_by,
        createdAt: r.created_at.toISOString(),
        expiresAt: r.expires_at.toISOString(),
      }));
    },
    /** Revokes an unused invitation of the actor's workspace: 404 when it has no such open one. */
    async revokeInvitation(actor: Actor, invitationId: string): Promise<void> {
      const open = await deps.invitations.findOpen(actor.workspaceId, invitationId);
      if (!open) throw notFound('Invitation');
      checkOwnerRank(actor, open.workspace_role ?? undefined);
      if (!(await deps.invitations.revokeInWorkspace(actor.workspaceId, invitationId)))
        throw notFound('Invitation');
      await audit(
        actor,
        actor.workspaceId,
        AuditActions.INVITATION_REVOKED,
        { type: 'invitation', id: invitationId },
        { email: open.email, role: open.workspace_role },
      );
    },
    async accept(user: AuthUser, token: string): Promise<{ workspaceId: string; role: WorkspaceRole }> {
      const joined = await members.join(invitationTokenHash(token), user.email, user.id);
      if (!joined)
        throw new HttpProblem(
          403,
          'INVITATION_INVALID',
          'Forbidden',
          'This invitation is unknown, used, revoked, expired or meant for another email',
        );
      await announceJoined(deps, user, joined);
      return joined;
    },
  };
}

export function createWorkspacesService(deps: WorkspacesServiceDeps) {
  const { workspaces, members, audit } = deps;
  const team = (workspaceId: string) => channelName(Channels.TEAM, { teamId: workspaceId });
  const changed: Changed = (event, workspaceId, userId, role) =>
    deps.publish(event, team(workspaceId), { workspaceId, userId, role }, null);

  async function targetRole(actor: Actor, userId: string): Promise<WorkspaceRole> {
    const role = await members.roleOf(actor.workspaceId, userId);
    if (!role) throw notFound('Member');
    return role;
  }

  return {
    async create(user: AuthUser, name: string): Promise<WorkspaceView> {
      const row = await workspaces.create(name, user.id);
      await audit(user, row.id, AuditActions.WORKSPACE_CREATED, { type: 'workspace', id: row.id }, { name });
      return workspaceView({ ...row, role: 'owner' }, user.id);
    },
    async list(user: AuthUser): Promise<WorkspaceView[]> {
      return (await workspaces.listForUser(user.id)).map((w) => workspaceView(w, user.id));
    },
    async get(actor: Actor): Promise<WorkspaceView> {
      const row = await workspaces.findForMember(actor.workspaceId, actor.id);
      if (!row) throw notFound('Workspace');
      return workspaceView({ ...row, role: actor.workspaceRole }, actor.id);
    },
    async rename(actor: Actor, name: string): Promise<WorkspaceView> {
      const row = await workspaces.rename(actor.workspaceId, name);
      if (!row) throw notFound('Workspace');
      await audit(
        actor,
        row.id,
        AuditActions.WORKSPACE_RENAMED,
        { type: 'workspace', id: row.id },
        { name: row.name },
      );
      await deps.publish(
        Events.WORKSPACE_UPDATED,
        team(row.id),
        { workspaceId: row.id, name: row.name },
        null,
      );
      return workspaceView({ ...row, role: actor.workspaceRole }, actor.id);
    },
    async delete(actor: Actor): Promise<void> {
      const gone = await workspaces.delete(actor.workspaceId);
      if (!gone)
        throw new HttpProblem(
          409,
          'PERSONAL_WORKSPACE',
          'Conflict',
          'A personal workspace cannot be deleted',
        );
      await deps.access.forget({ workspaceId: actor.workspaceId });
    },
    async members(actor: Actor): Promise<MemberView[]> {
      return (await members.list(actor.workspaceId)).map((m) => ({
        userId: m.user_id,
        email: m.email,
        role: m.role,
        joinedAt: m.created_at.toISOString(),
      }));
    },
    async setRole(actor: Actor, userId: string, role: WorkspaceRole): Promise<void> {
      const before = await targetRole(actor, userId);
      checkOwnerRank(actor, before, role);
      const refused = await members.setRole(actor.workspaceId, userId, role);
      if (refused === 'NOT_A_MEMBER') throw notFound('Member');
      if (refused === 'LAST_OWNER') throw lastOwner();
      await deps.access.forget({ workspaceId: actor.workspaceId, userId });
      await audit(
        actor,
        actor.workspaceId,
        AuditActions.MEMBER_ROLE_CHANGED,
        { type: 'user', id: userId },
        {
          from: before,
          to: role,
        },
      );
      await changed(Events.WORKSPACE_MEMBER_ROLE_CHANGED, actor.workspaceId, userId, role);
    },
    async remove(actor: Actor, userId: string): Promise<void> {
      const role = await targetRole(actor, userId);
      checkOwnerRank(actor, role);
      const refused = await members.remove(actor.workspaceId, userId);
      if (refused === 'NOT_A_MEMBER') throw notFound('Member');
      if (refused === 'LAST_OWNER') throw lastOwner();
      await deps.access.forget({ workspaceId: actor.workspaceId, userId });
      const action = userId === actor.id ? AuditActions.MEMBER_LEFT : AuditActions.MEMBER_REMOVED;
      await audit(actor, actor.workspaceId, action, { type: 'user', id: userId }, { role });
      await changed(Events.WORKSPACE_MEMBER_LEFT, actor.workspaceId, userId, null);
    },
    ...invitationOps(deps),
  };
}

export type WorkspacesService = ReturnType<typeof createWorkspacesService>;
