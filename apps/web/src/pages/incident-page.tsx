import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError } from '@crucible/client';
import type { IncidentDetail } from '@crucible/contracts/api';
import { useCurrentWorkspace, useNow } from '../components/monitor-bits';
import { incidentActions, incidentDuration, timeline } from '../lib/incidents';
import type { TimelineEntry } from '../lib/incidents';
import { api } from '../session';
import { IncidentStatusTag } from './incidents';

const message = (err: unknown) => (err instanceof ApiError ? err.message : String(err));
const at = (iso: string) => <time dateTime={iso}>{new Date(iso).toLocaleString()}</time>;

/** A 409 means someone (or the incident's runs) moved it first: say so, and show where it is now. */
const actionError = (err: unknown, action: string) =>
  err instanceof ApiError && err.status === 409
    ? `Could not ${action} it: ${err.message}. The page now shows its current state.`
    : message(err);

function Entry({ entry, channels }: { entry: TimelineEntry; channels: ReadonlyMap<string, string> }) {
  switch (entry.kind) {
    case 'run':
      return (
        <>
          {entry.role === 'opened' ? 'Failing run' : 'Passing run'}{' '}
          <a href={`/tests/${entry.run.testId}`} class="mono">
            {entry.run.testId.slice(0, 8)}
          </a>
          {entry.run.state && ` (${entry.run.state})`}
        </>
      );
    case 'opened':
      return <strong>Opened</strong>;
    case 'acknowledged':
      return <strong>Acknowledged</strong>;
    case 'resolved':
      return <strong>{entry.by ? 'Resolved by hand' : 'Resolved by its runs'}</strong>;
    case 'notification': {
      const n = entry.notification;
      return (
        <>
          Notification <span class="type-tag">{n.type}</span>
          {n.deliveries.length === 0 && <span class="muted"> (no channel)</span>}
          <ul class="deliveries">
            {n.deliveries.map((d) => {
              // Attempt 0 is the delivery written to the outbox; the others are sends.
              const sends = d.attempts.filter((a) => a.attempt > 0);
              const last = sends.at(-1);
              return (
                <li key={d.deliveryId} data-delivery-id={d.deliveryId}>
                  <a href={`/channels/${d.channelId}`}>{channels.get(d.channelId) ?? 'a channel'}</a>:{' '}
                  <span
                    class={
                      d.status === 'delivered'
                        ? 'verdict-passed'
                        : d.status === 'failed'
                          ? 'verdict-failed'
                          : ''
                    }
                  >
                    {d.status}
                  </span>
                  {sends.length > 0 && (
                    <span class="muted small">
                      {' '}
                      · {sends.length} {sends.length === 1 ? 'attempt' : 'attempts'}
                      {last?.responseStatus != null && ` · last HTTP ${last.responseStatus}`}
                      {last?.error && ` · ${last.error}`}
                    </span>
                  )}
                </li>
              );
            })}
          </ul>
        </>
      );
    }
  }
}

/**
 * One incident: what it is about, its timeline (the runs that opened and closed it, each
 * notification and its deliveries), and Acknowledge / Resolve for those who may.
 */
export function IncidentPage({ id }: { id: string }) {
  const current = useCurrentWorkspace();
  const now = useNow(10_000);
  const [detail, setDetail] = useState<IncidentDetail | null>(null);
  const [channels, setChannels] = useState<ReadonlyMap<string, string>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const [actionFailed, setActionFailed] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const load = useCallback(async () => {
    try {
      setDetail(await api.call('getIncident', { params: { id } }));
      setError(null);
    } catch (err) {
      setError(message(err));
    }
  }, [id]);
  useEffect(() => void load(), [load, current?.id]);
  // Names for the deliveries' channels; a deleted one is "a channel".
  useEffect(() => {
    api
      .call('listNotificationChannels', { query: {} })
      .then(({ items }) => setChannels(new Map(items.map((c) => [c.id, c.name]))))
      .catch(() => setChannels(new Map()));
  }, [current?.id]);
  const act = async (action: 'acknowledge' | 'resolve') => {
    setBusy(true);
    setActionFailed(null);
    try {
      await api.call(action === 'acknowledge' ? 'acknowledgeIncident' : 'resolveIncident', {
        params: { id },
      });
    } catch (err) {
      setActionFailed(actionError(err, action));
    } finally {
      await load();
      setBusy(false);
    }
  };
  const actions = detail ? incidentActions(detail.status, current?.role ?? null) : null;

  return (
    <main>
      <p class="crumbs">
        <a href="/incidents">Incidents</a> /
      </p>
      <h1>{detail ? `${detail.monitorName}: ${detail.ruleName}` : 'Incident'}</h1>
      {error && (
        <p role="alert" class="error-text">
          {error}
        </p>
      )}
      {detail && (
        <>
          <p data-testid="incident-summary">
            <IncidentStatusTag status={detail.status} />{' '}
            <span class={`sev sev-${detail.severity}`}>{detail.severity}</span> opened {at(detail.openedAt)},{' '}
            {detail.resolvedAt ? 'lasted' : 'open for'} {incidentDuration(detail, now)}
            {detail.reminders > 0 &&
              `, ${detail.reminders} ${detail.reminders === 1 ? 'reminder' : 'reminders'}`}
            {' · '}
            {detail.monitorId ? <a href={`/monitors/${detail.monitorId}`}>monitor</a> : 'monitor deleted'}
            {' · '}
            {detail.ruleId ? <a href={`/alert-rules/${detail.ruleId}`}>rule</a> : 'rule deleted'}
          </p>
          {actions && (actions.acknowledge || actions.resolve) && (
            <p class="row-actions">
              {actions.acknowledge && (
                <button type="button" disabled={busy} onClick={() => void act('acknowledge')}>
                  Acknowledge
                </button>
              )}{' '}
              {actions.resolve && (
                <button type="button" class="secondary" disabled={busy} onClick={() => void act('resolve')}>
                  Resolve
                </button>
              )}
            </p>
          )}
          {actionFailed && (
            <p role="alert" class="error-text" data-testid="action-error">
              {actionFailed}
            </p>
          )}
          <h2>Timeline</h2>
          <ol class="timeline" data-testid="timeline">
            {timeline(detail).map((entry, index) => (
              <li key={index} data-kind={entry.kind}>
                <span class="muted small">{at(entry.at)}</span> <Entry entry={entry} channels={channels} />
              </li>
            ))}
          </ol>
        </>
      )}
    </main>
  );
}
