import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '@crucible/client';
import type { ApiResponse } from '@crucible/client';
import { Channels } from '@crucible/contracts/channels';
import type { SystemAlertData } from '@crucible/contracts';
import { OneTimeSecret } from '../components/one-time-secret';
import { useStore } from '../lib/store';
import { splitAlerts, withAlert } from '../lib/system-alerts';
import { useChannel } from '../live-connection';
import { api, session } from '../session';

type CacheStats = ApiResponse<'cacheStats'>;

const pct = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;

function CacheSection({ stats }: { stats: CacheStats }) {
  return (
    <section aria-labelledby="cache-heading">
      <h2 id="cache-heading">API cache (this process)</h2>
      <dl class="counts">
        {(
          [
            ['hit ratio', pct(stats.hitRatio)],
            ['hits', stats.hits],
            ['misses', stats.misses],
            ['memory entries', stats.memoryEntries],
            ['evictions', stats.evictions],
            ['errors', stats.errors],
            ['Redis breaker', stats.breaker],
          ] as const
        ).map(([name, value]) => (
          <div key={name}>
            <dt>{name}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      <div class="table-wrap">
        <table>
          <caption>By namespace</caption>
          <thead>
            <tr>
              <th scope="col">namespace</th>
              <th scope="col">hits</th>
              <th scope="col">misses</th>
              <th scope="col">hit ratio</th>
              <th scope="col">memory hits</th>
              <th scope="col">Redis hits</th>
              <th scope="col">sets</th>
              <th scope="col">deletes</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(stats.namespaces).map(([name, ns]) => (
              <tr key={name}>
                <th scope="row">{name || '(root)'}</th>
                <td>{ns.hits}</td>
                <td>{ns.misses}</td>
                <td>{pct(ns.hitRatio)}</td>
                <td>{ns.memory.hits}</td>
                <td>{ns.redis.hits}</td>
                <td>{ns.sets}</td>
                <td>{ns.deletes}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/**
 * bull-board lives at /admin/queues behind a short-lived cookie: the API sets it for an admin's
 * token, then the browser can navigate there.
 */
function QueueBoardLink() {
  const [error, setError] = useState<string | null>(null);
  const open = async () => {
    setError(null);
    try {
      await api.call('openQueueBoard');
      location.assign('/admin/queues');
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 404
          ? 'This server does not serve the queue dashboard.'
          : String(err instanceof Error ? err.message : err),
      );
    }
  };
  return (
    <section aria-labelledby="board-heading">
      <h2 id="board-heading">Queue dashboard</h2>
      <p>Jobs, their attempts and their data, in bull-board.</p>
      <button type="button" onClick={open}>
        Open the queue dashboard
      </button>
      {error && (
        <p role="alert" class="error-text">
          {error}
        </p>
      )}
    </section>
  );
}

type Invitation = ApiResponse<'listInvitations'>['items'][number];

/**
 * Who may join: an invitation is a link to the sign-up form with a single-use token in it, shown
 * once, good for 7 days, optionally for one email only.
 */
function InvitationsSection() {
  const [items, setItems] = useState<Invitation[] | null>(null);
  const [email, setEmail] = useState('');
  const [created, setCreated] = useState<{ link: string; email: string | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const fail = (err: unknown) => setError(err instanceof ApiError ? err.message : String(err));
  const load = () =>
    api
      .call('listInvitations')
      .then((list) => setItems(list.items))
      .catch(fail);
  useEffect(() => void load(), []);

  const create = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      const forEmail = email.trim() || null;
      const invitation = await api.call('createInvitation', { body: forEmail ? { email: forEmail } : {} });
      const link = `${location.origin}/signup?invite=${encodeURIComponent(invitation.token)}`;
      setCreated({ link, email: forEmail });
      setEmail('');
      await load();
    } catch (err) {
      fail(err);
    }
  };

  const revoke = async (invitation: Invitation) => {
    setError(null);
    try {
      await api.call('revokeInvitation', { params: { id: invitation.id } });
      await load();
    } catch (err) {
      fail(err);
    }
  };

  return (
    <section aria-labelledby="invitations-heading">
      <h2 id="invitations-heading">Invitations</h2>
      <p>Once the first account exists, others sign up with an invitation link from here.</p>
      <form onSubmit={create} class="inline-form">
        <label for="invite-email">For this email only (optional)</label>
        <input
          id="invite-email"
          type="email"
          maxLength={254}
          value={email}
          onInput={(e) => setEmail(e.currentTarget.value)}
        />
        <button type="submit">Create invitation</button>
      </form>
      {created && (
        <OneTimeSecret
          value={created.link}
          testId="invitation-link"
          copyLabel="Copy link"
          onDone={() => setCreated(null)}
        >
          Send this link{created.email ? ` to ${created.email}` : ''}: it is shown only this once, works once,
          for 7 days.
        </OneTimeSecret>
      )}
      {error && (
        <p role="alert" class="error-text">
          {error}
        </p>
      )}
      {items && items.length === 0 && <p>No invitations yet.</p>}
      {items && items.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">for</th>
                <th scope="col">status</th>
                <th scope="col">created</th>
                <th scope="col">expires</th>
                <th scope="col">
                  <span class="visually-hidden">actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((invitation) => (
                <tr key={invitation.id}>
                  <td>{invitation.email ?? 'anyone with the link'}</td>
                  <td>{invitation.status}</td>
                  <td>{new Date(invitation.createdAt).toLocaleString()}</td>
                  <td>{new Date(invitation.expiresAt).toLocaleString()}</td>
                  <td>
                    {invitation.status === 'pending' && (
                      <button type="button" class="danger" onClick={() => revoke(invitation)}>
                        Revoke
                        <span class="visually-hidden">
                          {' '}
                          the invitation for {invitation.email ?? 'anyone with the link'}
                        </span>
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

function AlertRows({ alerts }: { alerts: SystemAlertData[] }) {
  return (
    <ul class="system-alerts">
      {alerts.map((a) => (
        <li key={a.id} data-testid="system-alert" data-kind={a.kind} data-status={a.status}>
          <strong class={`severity-${a.severity}`}>{a.severity}</strong> {a.title}
          <div class="muted">
            {a.message} Since {new Date(a.startedAt).toLocaleString()}
            {a.resolvedAt && `, resolved ${new Date(a.resolvedAt).toLocaleString()}`}.
          </div>
        </li>
      ))}
    </ul>
  );
}

/**
 * The platform's system alerts (no worker, an old queue, failing channels), live from
 * `system-alerts`: the list is asked once, and again when the subscription is reset (history lost).
 */
function SystemAlertsSection() {
  const [alerts, setAlerts] = useState<SystemAlertData[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () =>
    api
      .call('listSystemAlerts', { query: { limit: 50 } })
      .then((page) => setAlerts(page.items))
      .catch((err: unknown) => setError(err instanceof ApiError ? err.message : String(err)));
  useEffect(() => void load(), []);
  useChannel(Channels.SYSTEM_ALERTS, {
    message: (m) => {
      if (m.event === 'system:alert') setAlerts((list) => withAlert(list ?? [], m.data));
    },
    reset: () => void load(),
  });
  const { current, past } = splitAlerts(alerts ?? []);
  return (
    <section aria-labelledby="system-alerts-heading">
      <h2 id="system-alerts-heading">System alerts</h2>
      {error && (
        <p role="alert" class="error-text">
          {error}
        </p>
      )}
      {alerts && current.length === 0 && <p data-testid="no-system-alerts">Nothing is wrong right now.</p>}
      {current.length > 0 && <AlertRows alerts={current} />}
      {past.length > 0 && (
        <details>
          <summary>Past ({past.length})</summary>
          <AlertRows alerts={past} />
        </details>
      )}
    </section>
  );
}

function AdminsOnly() {
  return (
    <main>
      <h1>Admin</h1>
      <p role="alert">Administrators only</p>
    </main>
  );
}

/** What only admins see: system alerts, the queue dashboard, the API's cache and every user of this Crucible. */
export function AdminPage() {
  const isAdmin = useStore(session)?.user.role === 'admin';
  const [users, setUsers] = useState<ApiResponse<'listUsers'> | null>(null);
  const [cache, setCache] = useState<CacheStats | null>(null);
  const [error, setError] = useState<string | null>(null);
  // The role in the session may be older than the server's: a 403 says the same as the role.
  const [refused, setRefused] = useState(false);

  useEffect(() => {
    if (!isAdmin) return;
    const fail = (err: unknown) => {
      if (err instanceof ApiError && err.status === 403) setRefused(true);
      else setError(err instanceof ApiError ? err.message : String(err));
    };
    api.call('listUsers').then(setUsers).catch(fail);
    api.call('cacheStats').then(setCache).catch(fail);
  }, [isAdmin]);

  if (!isAdmin || refused) return <AdminsOnly />;
  return (
    <main>
      <h1>Admin</h1>
      {error && (
        <p role="alert" class="error-text">
          {error}
        </p>
      )}
      <SystemAlertsSection />
      <QueueBoardLink />
      <InvitationsSection />
      {cache && <CacheSection stats={cache} />}
      {users && (
        <section aria-labelledby="users-heading">
          <h2 id="users-heading">Users ({users.total})</h2>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">email</th>
                  <th scope="col">role</th>
                  <th scope="col">since</th>
                </tr>
              </thead>
              <tbody>
                {users.items.map((u) => (
                  <tr key={u.id}>
                    <td>{u.email}</td>
                    <td>{u.role}</td>
                    <td>{new Date(u.createdAt).toLocaleString()}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {users.total > users.items.length && (
            <p class="muted">The newest {users.items.length} are shown.</p>
          )}
        </section>
      )}
    </main>
  );
}
