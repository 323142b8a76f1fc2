import { useCallback, useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { ApiError } from '@crucible/client';
import { Severities } from '@crucible/contracts';
import { can } from '@crucible/contracts/api';
import type { AlertRuleView, ChannelView, MonitorView, WorkspaceView } from '@crucible/contracts/api';
import { useCurrentWorkspace } from '../components/monitor-bits';
import { draftOf, ruleField, ruleRequest, ruleSummary } from '../lib/alert-rules';
import type { RuleDraft, RuleErrors } from '../lib/alert-rules';
import { api } from '../session';

const message = (err: unknown) => (err instanceof ApiError ? err.message : String(err));

/** Whether the caller may make, change and delete rules here; until the role is known, no. */
const canWriteRules = (current: WorkspaceView | null) => current !== null && can(current.role, 'alert:write');

/** The monitors and channels a rule can name, by id. */
function useRuleTargets() {
  const [monitors, setMonitors] = useState<readonly MonitorView[]>([]);
  const [channels, setChannels] = useState<readonly ChannelView[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    Promise.all([api.call('listMonitors'), api.call('listNotificationChannels', { query: {} })])
      .then(([m, c]) => {
        setMonitors(m.items);
        setChannels(c.items);
      })
      .catch((err: unknown) => setError(message(err)));
  }, []);
  return { monitors, channels, error };
}

/** The workspace's alert rules: what each watches, when it fires and where it tells; members delete them. */
export function AlertRulesPage() {
  const current = useCurrentWorkspace();
  const write = canWriteRules(current);
  const { monitors, channels } = useRuleTargets();
  const [items, setItems] = useState<AlertRuleView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      setItems((await api.call('listAlertRules')).items);
      setError(null);
    } catch (err) {
      setError(message(err));
    }
  }, []);
  useEffect(() => void load(), [load, current?.id]);
  const remove = async (rule: AlertRuleView) => {
    if (!confirm(`Delete the rule "${rule.name}"? Its open incidents are resolved, without a notification.`))
      return;
    try {
      await api.call('deleteAlertRule', { params: { id: rule.id } });
      await load();
    } catch (err) {
      setError(message(err));
    }
  };
  const monitorName = (rule: AlertRuleView) =>
    'monitorId' in rule.target
      ? (monitors.find((m) => 'monitorId' in rule.target && m.id === rule.target.monitorId)?.name ??
        'a monitor')
      : 'every monitor';
  const channelNames = (rule: AlertRuleView) =>
    rule.channelIds.map((id) => channels.find((c) => c.id === id)?.name ?? 'a deleted channel').join(', ') ||
    'no channel';

  return (
    <main>
      <p class="crumbs">
        <a href="/incidents">Incidents</a> /
      </p>
      <div class="title-row">
        <h1>Alert rules</h1>
        {write && (
          <a class="button" href="/alert-rules/new">
            New rule
          </a>
        )}
      </div>
      {error && (
        <p role="alert" class="error-text">
          {error}
        </p>
      )}
      {items && items.length === 0 && (
        <p class="muted">
          No rules yet. A rule opens an incident when a monitor fails, and tells its channels.
        </p>
      )}
      {items && items.length > 0 && (
        <div class="table-wrap">
          <table class="tests" data-testid="alert-rules">
            <thead>
              <tr>
                <th scope="col">rule</th>
                <th scope="col">severity</th>
                <th scope="col">watches</th>
                <th scope="col">tells</th>
                <th scope="col">
                  <span class="visually-hidden">actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.id} data-rule-id={r.id}>
                  <td>
                    <a href={`/alert-rules/${r.id}`}>{r.name}</a>
                    <div class="muted small">{ruleSummary(r)}</div>
                  </td>
                  <td>
                    <span class={`sev sev-${r.severity}`}>{r.severity}</span>
                  </td>
                  <td>{monitorName(r)}</td>
                  <td>{channelNames(r)}</td>
                  <td class="row-actions">
                    {write && (
                      <button type="button" class="danger" onClick={() => void remove(r)}>
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
    </main>
  );
}

function FieldError({ id, error }: { id: string; error: string | undefined }) {
  return error ? (
    <p id={`r-${id}-error`} class="error-text">
      {error}
    </p>
  ) : null;
}

const invalid = (id: string, error: string | undefined) =>
  error ? { 'aria-invalid': 'true' as const, 'aria-describedby': `r-${id}-error` } : {};

interface FieldsProps {
  draft: RuleDraft;
  set: (changes: Partial<RuleDraft>) => void;
  errors: RuleErrors;
}

/** Name, monitor and condition. */
function WhatFields({ draft, set, errors, monitors }: FieldsProps & { monitors: readonly MonitorView[] }) {
  return (
    <>
      <div class="field">
        <label for="r-name">Rule name</label>
        <input
          id="r-name"
          value={draft.name}
          maxLength={200}
          onInput={(e) => set({ name: e.currentTarget.value })}
          {...invalid('name', errors.name)}
        />
        <FieldError id="name" error={errors.name} />
      </div>
      <div class="field">
        <label for="r-monitorId">Monitor</label>
        <select
          id="r-monitorId"
          value={draft.monitorId}
          onChange={(e) => set({ monitorId: e.currentTarget.value })}
          {...invalid('monitorId', errors.monitorId)}
        >
          <option value="">Every monitor (those made later too)</option>
          {monitors.map((m) => (
            <option key={m.id} value={m.id}>
              {m.name}
            </option>
          ))}
        </select>
        <FieldError id="monitorId" error={errors.monitorId} />
      </div>
      <fieldset>
        <legend>Fires when a run</legend>
        <label>
          <input
            type="radio"
            name="kind"
            checked={draft.kind === 'down'}
            onChange={() => set({ kind: 'down' })}
          />{' '}
          is down
        </label>{' '}
        <label>
          <input
            type="radio"
            name="kind"
            checked={draft.kind === 'threshold'}
            onChange={() => set({ kind: 'threshold' })}
          />{' '}
          breaks a threshold
        </label>
        <FieldError id="kind" error={errors.kind} />
        {draft.kind === 'threshold' && (
          <div class="field">
            <label for="r-expression">Threshold</label>
            <input
              id="r-expression"
              value={draft.expression}
              placeholder="latency.p95 < 500"
              onInput={(e) => set({ expression: e.currentTarget.value })}
              {...invalid('expression', errors.expression)}
            />
            <FieldError id="expression" error={errors.expression} />
          </div>
        )}
      </fieldset>
    </>
  );
}

/** Runs to open and resolve, reminders, severity and channels. */
function WhenFields({ draft, set, errors, channels }: FieldsProps & { channels: readonly ChannelView[] }) {
  return (
    <>
      <div class="field-row">
        {(
          [
            ['failAfter', 'Failing runs to open (1–20)'],
            ['recoverAfter', 'Passing runs to resolve (1–20)'],
            ['remindEveryMinutes', 'Remind every (minutes, ≥ 5; empty: never)'],
          ] as const
        ).map(([key, label]) => (
          <div class="field" key={key}>
            <label for={`r-${key}`}>{label}</label>
            <input
              id={`r-${key}`}
              inputMode="numeric"
              value={draft[key]}
              onInput={(e) => set({ [key]: e.currentTarget.value })}
              {...invalid(key, errors[key])}
            />
            <FieldError id={key} error={errors[key]} />
          </div>
        ))}
        <div class="field">
          <label for="r-severity">Severity</label>
          <select
            id="r-severity"
            value={draft.severity}
            onChange={(e) => set({ severity: e.currentTarget.value as RuleDraft['severity'] })}
          >
            {Severities.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
      </div>
      <fieldset>
        <legend>Tell these channels</legend>
        {channels.length === 0 && (
          <p class="muted">
            No channels yet: <a href="/channels">add one</a>.
          </p>
        )}
        {channels.map((c) => (
          <label key={c.id} class="check">
            <input
              type="checkbox"
              checked={draft.channelIds.includes(c.id)}
              onChange={(e) =>
                set({
                  channelIds: e.currentTarget.checked
                    ? [...draft.channelIds, c.id]
                    : draft.channelIds.filter((x) => x !== c.id),
                })
              }
            />{' '}
            {c.name} <span class="type-tag">{c.type}</span>
          </label>
        ))}
        <FieldError id="channelIds" error={errors.channelIds} />
      </fieldset>
    </>
  );
}

/** Makes a rule (`id` absent) or changes one; the API's refusals show under the field they are about. */
export function AlertRuleFormPage({ id }: { id?: string }) {
  const { route } = useLocation();
  const current = useCurrentWorkspace();
  const write = canWriteRules(current);
  const { monitors, channels, error: targetsError } = useRuleTargets();
  const [draft, setDraft] = useState<RuleDraft | null>(id ? null : draftOf());
  const [errors, setErrors] = useState<RuleErrors>({});
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!id) return;
    api
      .call('getAlertRule', { params: { id } })
      .then((rule) => setDraft(draftOf(rule)))
      .catch((err: unknown) => setErrors({ '': message(err) }));
  }, [id]);
  const set = (changes: Partial<RuleDraft>) => setDraft((d) => (d ? { ...d, ...changes } : d));
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!draft) return;
    const built = ruleRequest(draft);
    if ('errors' in built) return setErrors(built.errors);
    setErrors({});
    setBusy(true);
    try {
      if (id) await api.call('updateAlertRule', { params: { id }, body: built.body });
      else await api.call('createAlertRule', { body: built.body });
      route('/alert-rules');
    } catch (err) {
      if (err instanceof ApiError) {
        const field = ruleField(err.code, err.message);
        setErrors({ [field]: field ? err.message : `${err.message} (${err.code})` });
      } else setErrors({ '': String(err) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <main>
      <p class="crumbs">
        <a href="/alert-rules">Alert rules</a> /
      </p>
      <h1>{id ? 'Change the rule' : 'New alert rule'}</h1>
      {(errors[''] || targetsError) && (
        <p role="alert" class="error-text">
          {errors[''] ?? targetsError}
        </p>
      )}
      {current && !write && (
        <p class="muted">Your role in this workspace reads rules; a member changes them.</p>
      )}
      {draft && (
        <form onSubmit={submit} aria-label={id ? 'Change the rule' : 'New alert rule'}>
          <WhatFields draft={draft} set={set} errors={errors} monitors={monitors} />
          <WhenFields draft={draft} set={set} errors={errors} channels={channels} />
          {write && (
            <button type="submit" disabled={busy}>
              {id ? 'Save rule' : 'Create rule'}
            </button>
          )}
        </form>
      )}
    </main>
  );
}
