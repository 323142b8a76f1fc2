import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { ApiError } from '@crucible/client';
import { IncidentStatuses } from '@crucible/contracts';
import type { IncidentStatus } from '@crucible/contracts';
import type { IncidentView } from '@crucible/contracts/api';
import { useCurrentWorkspace, useNow } from '../components/monitor-bits';
import { Pager } from '../components/pager';
import { incidentDuration, incidentsPath, statusFilter } from '../lib/incidents';
import { api } from '../session';

const message = (err: unknown) => (err instanceof ApiError ? err.message : String(err));
const when = (at: string | null) =>
  at ? <time dateTime={at}>{new Date(at).toLocaleString()}</time> : <span class="muted">—</span>;

/** The incident's status as a word, coloured as the page colours it. */
export function IncidentStatusTag({ status }: { status: IncidentStatus }) {
  const tone = status === 'open' ? 'sev-critical' : status === 'acknowledged' ? 'sev-warning' : 'sev-info';
  return (
    <span class={`sev ${tone}`} data-status={status}>
      {status}
    </span>
  );
}

/**
 * The workspace's incidents, newest first, 25 a page, filtered by status (`?status=`); each links
 * to its timeline, its monitor and its rule.
 */
export function IncidentsPage() {
  const { query, route } = useLocation();
  const status = statusFilter(query.status);
  const cursor = query.cursor || undefined;
  const current = useCurrentWorkspace();
  const now = useNow(10_000);
  const [page, setPage] = useState<{ items: IncidentView[]; nextCursor: string | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const visited = useRef<string[]>([]);
  const load = useCallback(async () => {
    try {
      const answer = await api.call('listIncidents', {
        query: { limit: 25, ...(status ? { status } : {}), ...(cursor ? { cursor } : {}) },
      });
      setPage(answer);
      setError(null);
    } catch (err) {
      setError(message(err));
    }
  }, [status, cursor]);
  useEffect(() => void load(), [load, current?.id]);
  const choose = (next: IncidentStatus | undefined) => {
    visited.current = [];
    route(incidentsPath(next));
  };

  return (
    <main>
      <div class="title-row">
        <h1>Incidents</h1>
        <span>
          <a href="/alert-rules">Alert rules</a>{' '}
          <button type="button" class="secondary" onClick={() => void load()}>
            Refresh
          </button>
        </span>
      </div>
      <div class="filters" role="group" aria-label="Status">
        {[undefined, ...IncidentStatuses].map((s) => (
          <button
            key={s ?? 'all'}
            type="button"
            class={s === status ? '' : 'secondary'}
            aria-pressed={s === status}
            onClick={() => choose(s)}
          >
            {s ? s[0]!.toUpperCase() + s.slice(1) : 'All'}
          </button>
        ))}
      </div>
      {error && (
        <p role="alert" class="error-text">
          {error}
        </p>
      )}
      {page && page.items.length === 0 && (
        <p class="muted">
          {status ? `No ${status} incidents.` : 'No incidents yet.'} An alert rule opens one when its monitor
          fails for as many runs in a row as the rule says.
        </p>
      )}
      {page && page.items.length > 0 && (
        <div class="table-wrap">
          <table class="tests" data-testid="incidents">
            <thead>
              <tr>
                <th scope="col">status</th>
                <th scope="col">severity</th>
                <th scope="col">incident</th>
                <th scope="col">opened</th>
                <th scope="col">resolved</th>
                <th scope="col">lasted</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((i) => (
                <tr key={i.id} data-incident-id={i.id}>
                  <td data-label="status">
                    <IncidentStatusTag status={i.status} />
                  </td>
                  <td data-label="severity">
                    <span class={`sev sev-${i.severity}`}>{i.severity}</span>
                  </td>
                  <td>
                    <a href={`/incidents/${i.id}`}>
                      {i.monitorName}: {i.ruleName}
                    </a>
                    <div class="muted small">
                      {i.monitorId ? <a href={`/monitors/${i.monitorId}`}>monitor</a> : 'monitor deleted'}
                      {' · '}
                      {i.ruleId ? <a href={`/alert-rules/${i.ruleId}`}>rule</a> : 'rule deleted'}
                    </div>
                  </td>
                  <td data-label="opened">{when(i.openedAt)}</td>
                  <td data-label="resolved">{when(i.resolvedAt)}</td>
                  <td data-label="lasted">{incidentDuration(i, now)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page && (
        <Pager
          cursor={cursor}
          nextCursor={page.nextCursor}
          history={visited}
          setQuery={(changes) => route(incidentsPath(status, changes.cursor))}
        />
      )}
    </main>
  );
}
