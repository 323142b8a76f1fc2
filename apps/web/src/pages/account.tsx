import Bowser from 'bowser';
import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { ApiError } from '@crucible/client';
import type { ApiResponse } from '@crucible/client';
import { OneTimeSecret } from '../components/one-time-secret';
import { api, signOut } from '../session';

type Key = ApiResponse<'listApiKeys'>[number];
type SignInSession = ApiResponse<'listSessions'>[number];

const message = (err: unknown) => (err instanceof ApiError ? err.message : String(err));

/** "Firefox 140 on Linux" from a session's User-Agent; the raw string when nothing is recognised. */
export function deviceOf(userAgent: string | null): string {
  if (!userAgent) return 'unknown device';
  const { browser, os } = Bowser.parse(userAgent);
  if (!browser.name) return userAgent;
  const major = browser.version?.split('.')[0];
  return [browser.name, major, os.name ? `on ${os.name}` : undefined].filter(Boolean).join(' ');
}

/** The account page: where the user is signed in, and the API keys of their scripts. */
export function AccountPage() {
  return (
    <main>
      <h1>Account</h1>
      <SessionsSection />
      <ApiKeysSection />
    </main>
  );
}

function SessionsSection() {
  const { route } = useLocation();
  const [sessions, setSessions] = useState<SignInSession[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = () =>
    api
      .call('listSessions')
      .then(setSessions)
      .catch((err: unknown) => setError(message(err)));
  useEffect(() => void load(), []);

  const end = async (session: SignInSession) => {
    setError(null);
    try {
      await api.call('revokeSession', { params: { id: session.id } });
      await load();
    } catch (err) {
      setError(message(err));
    }
  };

  const everywhere = async () => {
    if (!confirm('Sign out on every device, this one included?')) return;
    try {
      await api.call('logoutAll');
      signOut();
      route('/signin');
    } catch (err) {
      setError(message(err));
    }
  };

  return (
    <section aria-labelledby="sessions-heading">
      <h2 id="sessions-heading">Where you are signed in</h2>
      <p>
        A session ends when you sign out, after 12 hours without use, and at the latest 7 days after signing
        in.
      </p>
      {error && (
        <p role="alert" class="error-text">
          {error}
        </p>
      )}
      {sessions && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">device</th>
                <th scope="col">address</th>
                <th scope="col">signed in</th>
                <th scope="col">last seen</th>
                <th scope="col">
                  <span class="visually-hidden">actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {sessions.map((session) => (
                <tr key={session.id}>
                  <td title={session.userAgent ?? undefined}>{deviceOf(session.userAgent)}</td>
                  <td>{session.ip ?? '—'}</td>
                  <td>{new Date(session.createdAt).toLocaleString()}</td>
                  <td>
                    {session.current ? 'now (this device)' : new Date(session.lastSeenAt).toLocaleString()}
                  </td>
                  <td>
                    {!session.current && (
                      <button type="button" class="secondary" onClick={() => end(session)}>
                        Sign out<span class="visually-hidden"> {deviceOf(session.userAgent)}</span>
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p>
        <button type="button" class="danger" onClick={everywhere}>
          Sign out everywhere
        </button>
      </p>
    </section>
  );
}

function ApiKeysSection() {
  const [keys, setKeys] = useState<Key[] | null>(null);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = () =>
    api
      .call('listApiKeys')
      .then(setKeys)
      .catch((err: unknown) => setError(message(err)));
  useEffect(() => void load(), []);

  const create = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      const key = await api.call('createApiKey', { body: { name: name.trim() } });
      setCreated({ name: key.name, key: key.key });
      setName('');
      await load();
    } catch (err) {
      setError(message(err));
    }
  };

  const revoke = async (key: Key) => {
    if (!confirm(`Revoke the key "${key.name}"? Anything using it stops working.`)) return;
    try {
      await api.call('revokeApiKey', { params: { id: key.id } });
      await load();
    } catch (err) {
      setError(message(err));
    }
  };

  return (
    <section aria-labelledby="keys-heading">
      <h2 id="keys-heading">API keys</h2>
      <p>
        Use a key as <code>Authorization: Bearer &lt;key&gt;</code> from scripts and CI.
      </p>
      <form onSubmit={create} class="inline-form">
        <label for="key-name">Name of a new key</label>
        <input
          id="key-name"
          required
          maxLength={100}
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
        />
        <button type="submit">Create key</button>
      </form>
      {created && (
        <OneTimeSecret value={created.key} testId="new-key" copyLabel="Copy" onDone={() => setCreated(null)}>
          The key <strong>{created.name}</strong> is shown only this once: copy it now.
        </OneTimeSecret>
      )}
      {error && (
        <p role="alert" class="error-text">
          {error}
        </p>
      )}
      {keys && keys.length === 0 && <p>No keys yet.</p>}
      {keys && keys.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">name</th>
                <th scope="col">starts with</th>
                <th scope="col">created</th>
                <th scope="col">last used</th>
                <th scope="col">
                  <span class="visually-hidden">actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.map((key) => (
                <tr key={key.id}>
                  <td>{key.name}</td>
                  <td>
                    <code>{key.prefix}…</code>
                  </td>
                  <td>{new Date(key.createdAt).toLocaleString()}</td>
                  <td>{key.lastUsedAt ? new Date(key.lastUsedAt).toLocaleString() : 'never'}</td>
                  <td>
                    <button type="button" class="danger" onClick={() => revoke(key)}>
                      Revoke<span class="visually-hidden"> {key.name}</span>
                    </button>
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
