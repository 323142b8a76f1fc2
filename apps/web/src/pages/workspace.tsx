import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { ApiError } from '@crucible/client';
import { WORKSPACE_ROLES, can } from '@crucible/contracts/api';
import type {
  MemberView,
  PendingInvitationView,
  WorkspaceRole,
  WorkspaceView,
} from '@crucible/contracts/api';
import { OneTimeSecret } from '../components/one-time-secret';
import { WorkspaceUsagePanel } from '../components/workspace-usage';
import { workspacesList } from '../components/workspace-switcher';
import { useStore } from '../lib/store';
import { api, session } from '../session';
import { selectWorkspace, workspace } from '../workspace';

const message = (err: unknown) => (err instanceof ApiError ? err.message : String(err));

/** Invite someone by email with a role: the link is shown once. */
function InviteForm(props: {
  workspace: WorkspaceView;
  onInvited: () => void;
  onError: (text: string) => void;
}) {
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<WorkspaceRole>('member');
  const [token, setToken] = useState<string | null>(null);
  const offered = WORKSPACE_ROLES.filter((r) => r !== 'owner' || can(props.workspace.role, 'owner:manage'));
  const invite = async (event: Event) => {
    event.preventDefault();
    try {
      const created = await api.call('createWorkspaceInvitation', {
        params: { id: props.workspace.id },
        body: { email: email.trim(), role },
      });
      setToken(created.token);
      setEmail('');
      props.onInvited();
    } catch (err) {
      props.onError(message(err));
    }
  };
  return (
    <form onSubmit={invite} class="inline-form">
      <label for="member-email">Invite by email</label>
      <input
        id="member-email"
        type="email"
        required
        maxLength={254}
        value={email}
        onInput={(e) => setEmail(e.currentTarget.value)}
      />
      <label for="member-role">as</label>
      <select id="member-role" value={role} onChange={(e) => setRole(e.currentTarget.value as WorkspaceRole)}>
        {offered.map((r) => (
          <option key={r} value={r}>
            {r}
          </option>
        ))}
      </select>
      <button type="submit">Invite</button>
      {token && (
        <OneTimeSecret
          value={`${location.origin}/signup?invite=${encodeURIComponent(token)}`}
          testId="member-invitation-link"
          copyLabel="Copy link"
          onDone={() => setToken(null)}
        >
          Send this link: it is shown only this once, works once, for 7 days, for that email only. Someone who
          already has an account opens {`${location.origin}/workspace?accept=${encodeURIComponent(token)}`}{' '}
          signed in instead.
        </OneTimeSecret>
      )}
    </form>
  );
}

/**
 * The workspace's invitations nobody has accepted yet (shown to admins): who, as what, by whom,
 * until when, each with Revoke (one as owner: only an owner may). A revoked link stops working at once.
 */
function PendingInvitations(props: {
  workspace: WorkspaceView;
  /** Changes when an invitation was made, to list it. */
  version: number;
  onError: (text: string) => void;
}) {
  const { workspace: ws } = props;
  const [items, setItems] = useState<PendingInvitationView[] | null>(null);
  const load = async () => {
    try {
      setItems((await api.call('listWorkspaceInvitations', { params: { id: ws.id } })).items);
    } catch (err) {
      props.onError(message(err));
    }
  };
  useEffect(() => void load(), [ws.id, props.version]);
  if (!items) return null;
  const revoke = async (invitationId: string) => {
    try {
      await api.call('revokeWorkspaceInvitation', { params: { id: ws.id, invitationId } });
      await load();
    } catch (err) {
      props.onError(message(err));
    }
  };
  return (
    <section>
      <h2>Pending invitations</h2>
      {items.length === 0 ? (
        <p class="muted">No invitation is waiting to be accepted.</p>
      ) : (
        <div class="table-wrap">
          <table data-testid="invitations">
            <thead>
              <tr>
                <th scope="col">email</th>
                <th scope="col">role</th>
                <th scope="col">invited by</th>
                <th scope="col">expires</th>
                <th scope="col">
                  <span class="visually-hidden">actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((i) => (
                <tr key={i.invitationId}>
                  <td>{i.email}</td>
                  <td>{i.role}</td>
                  <td>{i.invitedBy ?? '—'}</td>
                  <td>{new Date(i.expiresAt).toLocaleString()}</td>
                  <td>
                    {can(ws.role, 'invitation:revoke') &&
                      (i.role !== 'owner' || can(ws.role, 'owner:manage')) && (
                        <button type="button" class="danger" onClick={() => void revoke(i.invitationId)}>
                          Revoke<span class="visually-hidden"> the invitation of {i.email}</span>
                        </button>
                      )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** One member's row: their role (changeable by an admin, owners by an owner) and removal. */
function MemberRow(props: {
  member: MemberView;
  workspace: WorkspaceView;
  onChange: () => void;
  onError: (text: string) => void;
}) {
  const { member, workspace: ws } = props;
  const mayManage =
    can(ws.role, 'member:update') && (member.role !== 'owner' || can(ws.role, 'owner:manage'));
  const act = async (run: () => Promise<unknown>) => {
    try {
      await run();
      props.onChange();
    } catch (err) {
      props.onError(message(err));
    }
  };
  const params = { id: ws.id, userId: member.userId };
  return (
    <tr>
      <td>{member.email}</td>
      <td>
        {mayManage ? (
          <select
            aria-label={`Role of ${member.email}`}
            value={member.role}
            onChange={(e) =>
              act(() =>
                api.call('updateMember', { params, body: { role: e.currentTarget.value as WorkspaceRole } }),
              )
            }
          >
            {WORKSPACE_ROLES.filter((r) => r !== 'owner' || can(ws.role, 'owner:manage')).map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        ) : (
          member.role
        )}
      </td>
      <td>{new Date(member.joinedAt).toLocaleDateString()}</td>
      <td>
        {mayManage && (
          <button
            type="button"
            class="danger"
            onClick={() => act(() => api.call('removeMember', { params }))}
          >
            Remove<span class="visually-hidden"> {member.email}</span>
          </button>
        )}
      </td>
    </tr>
  );
}

/** The workspace's members, each with their role and what the caller may change of it. */
function MembersTable(props: {
  members: MemberView[];
  workspace: WorkspaceView;
  onChange: () => void;
  onError: (text: string) => void;
}) {
  return (
    <div class="table-wrap">
      <table data-testid="members">
        <thead>
          <tr>
            <th scope="col">member</th>
            <th scope="col">role</th>
            <th scope="col">joined</th>
            <th scope="col">
              <span class="visually-hidden">actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {props.members.map((m) => (
            <MemberRow
              key={m.userId}
              member={m}
              workspace={props.workspace}
              onChange={props.onChange}
              onError={props.onError}
            />
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The current workspace: its members and roles, invitations, and making a new workspace. */
export function WorkspacePage() {
  const { query } = useLocation();
  const current = useStore(workspace);
  const me = useStore(session);
  const [ws, setWs] = useState<WorkspaceView | null>(null);
  const [members, setMembers] = useState<MemberView[] | null>(null);
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [invited, setInvited] = useState(0);
  const load = async () => {
    try {
      const { items } = await api.call('listWorkspaces');
      const found = items.find((w) => w.id === current) ?? items.find((w) => w.personal) ?? null;
      setWs(found);
      if (found) setMembers((await api.call('listMembers', { params: { id: found.id } })).items);
    } catch (err) {
      setError(message(err));
    }
  };
  useEffect(() => void load(), [current]);
  // An invitation link for someone with an account: accept it, then show that workspace.
  useEffect(() => {
    if (!query.accept) return;
    api
      .call('acceptInvitation', { params: { token: query.accept } })
      .then((joined) => {
        selectWorkspace(joined.workspaceId);
        workspacesList.reload();
        history.replaceState(null, '', '/workspace');
      })
      .catch((err: unknown) => setError(message(err)));
  }, [query.accept]);
  const create = async (event: Event) => {
    event.preventDefault();
    try {
      const made = await api.call('createWorkspace', { body: { name: name.trim() } });
      setName('');
      selectWorkspace(made.id);
      workspacesList.reload();
    } catch (err) {
      setError(message(err));
    }
  };
  return (
    <main>
      <h1>{ws ? ws.name : 'Workspace'}</h1>
      {ws && <p class="muted">Your role here: {ws.role}.</p>}
      {ws && can(ws.role, 'audit:read') && (
        <p>
          <a href="/workspace/audit">Audit log</a>: who did what in this workspace, and when.
        </p>
      )}
      {error && (
        <p role="alert" class="error-text">
          {error}
        </p>
      )}
      {ws && can(ws.role, 'member:invite') && !ws.personal && (
        <InviteForm workspace={ws} onInvited={() => setInvited((n) => n + 1)} onError={setError} />
      )}
      {ws && members && (
        <MembersTable members={members} workspace={ws} onChange={() => void load()} onError={setError} />
      )}
      {ws && can(ws.role, 'member:invite') && !ws.personal && (
        <PendingInvitations workspace={ws} version={invited} onError={setError} />
      )}
      {ws && <WorkspaceUsagePanel workspaceId={ws.id} />}
      {ws && !ws.personal && me && (
        <p>
          <button
            type="button"
            class="secondary"
            onClick={async () => {
              try {
                await api.call('removeMember', { params: { id: ws.id, userId: me.user.id } });
                selectWorkspace(null);
                workspacesList.reload();
              } catch (err) {
                setError(message(err));
              }
            }}
          >
            Leave this workspace
          </button>
        </p>
      )}
      <h2>New workspace</h2>
      <form onSubmit={create} class="inline-form">
        <label for="workspace-name">Name</label>
        <input
          id="workspace-name"
          required
          maxLength={100}
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
        />
        <button type="submit">Create</button>
      </form>
    </main>
  );
}
