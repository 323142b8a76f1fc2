import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '@crucible/client';
import { Severities } from '@crucible/contracts';
import type { ChannelView } from '@crucible/contracts/api';
import { draftOf, localInput, preferencesField, preferencesRequest } from '../lib/notification-preferences';
import type { PreferencesDraft, PreferencesErrors } from '../lib/notification-preferences';
import { useStore } from '../lib/store';
import { api, session } from '../session';

const message = (err: unknown) => (err instanceof ApiError ? err.message : String(err));
const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;
const ZONES = Intl.supportedValuesOf('timeZone');

function FieldError({ id, error }: { id: string; error: string | undefined }) {
  return error ? (
    <p id={`p-${id}-error`} class="error-text">
      {error}
    </p>
  ) : null;
}

const invalid = (id: string, error: string | undefined) =>
  error ? { 'aria-invalid': 'true' as const, 'aria-describedby': `p-${id}-error` } : {};

interface FieldsProps {
  draft: PreferencesDraft;
  set: (changes: Partial<PreferencesDraft>) => void;
  errors: PreferencesErrors;
}

/** Quiet hours: from, until, and the clock they are read on. */
function QuietHoursFields({ draft, set, errors }: FieldsProps) {
  return (
    <fieldset>
      <legend>Quiet hours</legend>
      <label class="check">
        <input
          type="checkbox"
          checked={draft.quiet}
          onChange={(e) => set({ quiet: e.currentTarget.checked })}
        />{' '}
        Hold non-critical notifications during quiet hours; they go out when the hours end
      </label>
      {draft.quiet && (
        <div class="field-row">
          <div class="field">
            <label for="p-start">From</label>
            <input
              id="p-start"
              type="time"
              value={draft.start}
              onInput={(e) => set({ start: e.currentTarget.value })}
              {...invalid('quiet', errors.quiet)}
            />
          </div>
          <div class="field">
            <label for="p-end">Until</label>
            <input
              id="p-end"
              type="time"
              value={draft.end}
              onInput={(e) => set({ end: e.currentTarget.value })}
              {...invalid('quiet', errors.quiet)}
            />
          </div>
          <div class="field">
            <label for="p-timezone">Time zone</label>
            <input
              id="p-timezone"
              list="p-zones"
              value={draft.timezone}
              onInput={(e) => set({ timezone: e.currentTarget.value })}
              {...invalid('timezone', errors.timezone)}
            />
            <datalist id="p-zones">
              {ZONES.map((z) => (
                <option key={z} value={z} />
              ))}
            </datalist>
            <FieldError id="timezone" error={errors.timezone} />
          </div>
        </div>
      )}
      <FieldError id="quiet" error={errors.quiet} />
    </fieldset>
  );
}

/** A minimum severity for each channel the caller made in this workspace. */
function MinSeverityFields({ draft, set, channels }: FieldsProps & { channels: readonly ChannelView[] }) {
  return (
    <fieldset>
      <legend>Minimum severity per channel</legend>
      {channels.length === 0 && <p class="muted">You have made no channels in this workspace.</p>}
      {channels.map((c) => (
        <div class="field" key={c.id}>
          <label for={`p-sev-${c.id}`}>
            {c.name} <span class="type-tag">{c.type}</span>
          </label>
          <select
            id={`p-sev-${c.id}`}
            value={draft.minSeverity[c.id] ?? ''}
            onChange={(e) =>
              set({
                minSeverity: {
                  ...draft.minSeverity,
                  [c.id]: e.currentTarget.value as PreferencesDraft['minSeverity'][string],
                },
              })
            }
          >
            <option value="">every severity</option>
            {Severities.map((s) => (
              <option key={s} value={s}>
                {s} and above
              </option>
            ))}
          </select>
        </div>
      ))}
    </fieldset>
  );
}

/** A mute until a time; critical notifications still go. */
function MuteFields({ draft, set, errors }: FieldsProps) {
  return (
    <fieldset>
      <legend>Mute</legend>
      <div class="field">
        <label for="p-muted">Muted until (critical notifications still go)</label>
        <input
          id="p-muted"
          type="datetime-local"
          value={draft.mutedUntil}
          onInput={(e) => set({ mutedUntil: e.currentTarget.value })}
          {...invalid('mutedUntil', errors.mutedUntil)}
        />
        <FieldError id="mutedUntil" error={errors.mutedUntil} />
      </div>
      <p class="row-actions">
        <button
          type="button"
          class="secondary"
          onClick={() => set({ mutedUntil: localInput(new Date(Date.now() + 3_600_000)) })}
        >
          Mute for an hour
        </button>{' '}
        {draft.mutedUntil && (
          <button type="button" class="secondary" onClick={() => set({ mutedUntil: '' })}>
            Unmute
          </button>
        )}
      </p>
    </fieldset>
  );
}

/**
 * The caller's notification preferences (`GET`/`PUT /api/notification-preferences`): quiet hours,
 * a minimum severity for each channel they made, a mute. They govern the channels the caller
 * created, for everyone those reach; minimums of channels in other workspaces are kept as they are.
 */
export function NotificationPreferencesPage() {
  const me = useStore(session)?.user.id;
  const [draft, setDraft] = useState<PreferencesDraft | null>(null);
  const [channels, setChannels] = useState<readonly ChannelView[]>([]);
  const [errors, setErrors] = useState<PreferencesErrors>({});
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    Promise.all([api.call('getNotificationPreferences'), api.call('listNotificationChannels', { query: {} })])
      .then(([prefs, list]) => {
        setDraft(draftOf(prefs, browserZone()));
        setChannels(list.items.filter((c) => c.createdBy === me));
      })
      .catch((err: unknown) => setErrors({ '': message(err) }));
  }, [me]);
  const set = (changes: Partial<PreferencesDraft>) => {
    setSaved(false);
    setDraft((d) => (d ? { ...d, ...changes } : d));
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!draft) return;
    const built = preferencesRequest(draft);
    if ('errors' in built) return setErrors(built.errors);
    setErrors({});
    setBusy(true);
    try {
      setDraft(draftOf(await api.call('putNotificationPreferences', { body: built.body }), browserZone()));
      setSaved(true);
    } catch (err) {
      if (err instanceof ApiError) {
        const field = preferencesField(err.code, err.message);
        setErrors({ [field]: field ? err.message : `${err.message} (${err.code})` });
      } else setErrors({ '': String(err) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <main>
      <p class="crumbs">
        <a href="/notifications">Notifications</a> /
      </p>
      <h1>Notification preferences</h1>
      <p class="muted">
        They apply to the channels you created, for everyone those channels reach. Test notifications ignore
        them.
      </p>
      {errors[''] && (
        <p role="alert" class="error-text">
          {errors['']}
        </p>
      )}
      {draft && (
        <form onSubmit={submit} aria-label="Notification preferences">
          <QuietHoursFields draft={draft} set={set} errors={errors} />
          <MinSeverityFields draft={draft} set={set} errors={errors} channels={channels} />
          <MuteFields draft={draft} set={set} errors={errors} />
          <button type="submit" disabled={busy}>
            Save preferences
          </button>{' '}
          {saved && (
            <span role="status" class="muted">
              Saved.
            </span>
          )}
        </form>
      )}
    </main>
  );
}
