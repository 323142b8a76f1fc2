import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '@crucible/client';
import type { ApiResponse } from '@crucible/client';
import { api } from '../session';

type Key = ApiResponse<'listApiKeys'>[number];

export function ApiKeysPage() {
  const [keys, setKeys] = useState<Key[] | null>(null);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const load = () =>
    api
      .call('listApiKeys')
      .then(setKeys)
      .catch((err: unknown) => setError(err instanceof ApiError ? err.message : String(err)));
  useEffect(() => void load(), []);

  const create = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      const key = await api.call('createApiKey', { body: { name: name.trim() } });
      setCreated({ name: key.name, key: key.key });
      setCopied(false);
      setName('');
      await load();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };

  const revoke = async (key: Key) => {
    if (!confirm(`Revoke the key "${key.name}"? Anything using it stops working.`)) return;
    try {
      await api.call('revokeApiKey', { params: { id: key.id } });
      await load();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };

  const copy = async () => {
    if (!created) return;
    await navigator.clipboard.writeText(created.key);
    setCopied(true);
  };

  return (
    <main>
      <h1>API keys</h1>
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
        <div class="notice" role="status">
          <p>
            The key <strong>{created.name}</strong> is shown only this once: copy it now.
          </p>
          <p class="secret">
            <code data-testid="new-key">{created.key}</code>{' '}
            <button type="button" onClick={copy}>
              {copied ? 'Copied' : 'Copy'}
            </button>{' '}
            <button type="button" class="secondary" onClick={() => setCreated(null)}>
              Done
            </button>
          </p>
        </div>
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
    </main>
  );
}
