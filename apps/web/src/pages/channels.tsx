import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError } from '@crucible/client';
import type { ApiResponse } from '@crucible/client';
import { ChannelTypes } from '@crucible/contracts';
import type { ChannelType } from '@crucible/contracts';
import { can } from '@crucible/contracts/api';
import type { ChannelView, WorkspaceView } from '@crucible/contracts/api';
import { useCurrentWorkspace } from '../components/monitor-bits';
import { OneTimeSecret } from '../components/one-time-secret';
import {
  CHANNEL_FIELDS,
  CHANNEL_TYPE_LABELS,
  channelRequest,
  channelTarget,
  outcomeText,
} from '../lib/notifications';
import { api } from '../session';

const message = (err: unknown) => (err instanceof ApiError ? err.message : String(err));
type TestResult = ApiResponse<'testNotificationChannel'>;

/** What the caller may do with channels here; until the role is known, nothing beyond reading. */
export function channelRights(current: WorkspaceView | null) {
  return {
    test: current !== null && can(current.role, 'notificationChannel:test'),
    manage: current !== null && can(current.role, 'notificationChannel:manage'),
  };
}

/** "Send test" and what its first attempt did. */
export function SendTest({ channel }: { channel: ChannelView }) {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const send = async () => {
    setBusy(true);
    setResult(null);
    try {
      const r: TestResult = await api.call('testNotificationChannel', { params: { id: channel.id } });
      setResult({ ok: r.status === 'delivered', text: outcomeText(r) });
    } catch (err) {
      setResult({ ok: false, text: message(err) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" class="secondary" disabled={busy} onClick={send}>
        {busy ? 'Sending…' : 'Send test'}
      </button>
      {result && (
        <span
          role="status"
          class={result.ok ? 'verdict-passed' : 'verdict-failed'}
          data-testid="test-outcome"
        >
          {' '}
          {result.text}
        </span>
      )}
    </>
  );
}

function AddChannel({ onCreated }: { onCreated: (channel: ChannelView, secret?: string) => void }) {
  const [type, setType] = useState<ChannelType>('webhook');
  const [name, setName] = useState('');
  const [values, setValues] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const built = channelRequest(name, type, values);
    if ('error' in built) return setError(built.error);
    setBusy(true);
    try {
      const created = await api.call('createNotificationChannel', { body: built.request });
      setName('');
      setValues({});
      setError(null);
      onCreated(created, created.secret);
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} aria-label="Add a channel">
      <h2>Add a channel</h2>
      <div class="field-row">
        <label>
          Type
          <select
            value={type}
            onChange={(e) => {
              setType(e.currentTarget.value as ChannelType);
              setValues({});
              setError(null);
            }}
          >
            {ChannelTypes.map((t) => (
              <option key={t} value={t}>
                {CHANNEL_TYPE_LABELS[t]}
              </option>
            ))}
          </select>
        </label>
        <label>
          Name
          <input value={name} maxLength={100} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        {CHANNEL_FIELDS[type].map((field) => (
          <label key={field.key}>
            {field.label}
            <input
              type={field.secret ? 'password' : 'text'}
              autoComplete="off"
              value={values[field.key] ?? ''}
              onInput={(e) => setValues({ ...values, [field.key]: e.currentTarget.value })}
            />
            {field.hint && <span class="hint">{field.hint}</span>}
          </label>
        ))}
      </div>
      {type === 'in-app' && (
        <p class="hint">Notifications appear under the bell of whoever adds the channel.</p>
      )}
      {error && (
        <p role="alert" class="error-text">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy}>
        Add channel
      </button>
    </form>
  );
}

/**
 * The workspace's notification channels: where each sends, whether a 410 disabled it, a test send
 * (members) and its trail (everyone); admins add and delete them. A webhook's signing secret is
 * shown once, right after it was added.
 */
export function ChannelsPage() {
  const current = useCurrentWorkspace();
  const rights = channelRights(current);
  const [items, setItems] = useState<ChannelView[] | null>(null);
  const [secret, setSecret] = useState<{ name: string; value: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      setItems((await api.call('listNotificationChannels', { query: {} })).items);
      setError(null);
    } catch (err) {
      setError(message(err));
    }
  }, []);
  useEffect(() => void load(), [load, current?.id]);
  const remove = async (channel: ChannelView) => {
    if (!confirm(`Delete the channel "${channel.name}" and its delivery trail?`)) return;
    try {
      await api.call('deleteNotificationChannel', { params: { id: channel.id } });
      await load();
    } catch (err) {
      setError(message(err));
    }
  };
  const enable = async (channel: ChannelView) => {
    try {
      await api.call('updateNotificationChannel', { params: { id: channel.id }, body: { enabled: true } });
      await load();
    } catch (err) {
      setError(message(err));
    }
  };

  return (
    <main>
      <p class="crumbs">
        <a href="/notifications">Notifications</a> /
      </p>
      <h1>Channels</h1>
      {error && (
        <p role="alert" class="error-text">
          {error}
        </p>
      )}
      {secret && (
        <OneTimeSecret
          value={secret.value}
          testId="webhook-secret"
          copyLabel="Copy secret"
          onDone={() => setSecret(null)}
        >
          The signing secret of "{secret.name}". It is shown this once: keep it where your receiver verifies
          signatures (README, "Alerts and notifications").
        </OneTimeSecret>
      )}
      {items && items.length === 0 && <p class="muted">No channels yet.</p>}
      {items && items.length > 0 && (
        <div class="table-wrap">
          <table class="tests" data-testid="channels">
            <thead>
              <tr>
                <th scope="col">channel</th>
                <th scope="col">sends to</th>
                <th scope="col">state</th>
                <th scope="col">
                  <span class="visually-hidden">actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((c) => (
                <tr key={c.id} data-channel-id={c.id}>
                  <td>
                    <a href={`/channels/${c.id}`}>{c.name}</a>
                    <div class="muted small">
                      <span class="type-tag">{c.type}</span>
                    </div>
                  </td>
                  <td class="url">{channelTarget(c)}</td>
                  <td>
                    {c.enabled ? 'enabled' : <span class="verdict-failed">disabled: {c.disabledReason}</span>}
                  </td>
                  <td class="row-actions">
                    {rights.test && <SendTest channel={c} />}{' '}
                    {rights.manage && !c.enabled && (
                      <button type="button" class="secondary" onClick={() => void enable(c)}>
                        Enable
                      </button>
                    )}{' '}
                    {rights.manage && (
                      <button type="button" class="danger" onClick={() => void remove(c)}>
                        Delete
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {rights.manage && (
        <AddChannel
          onCreated={(channel, value) => {
            if (value) setSecret({ name: channel.name, value });
            void load();
          }}
        />
      )}
    </main>
  );
}
