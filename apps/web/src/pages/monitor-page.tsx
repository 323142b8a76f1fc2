import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { ApiError } from '@crucible/client';
import type { IncidentView, MonitorRunView, MonitorView, TestView } from '@crucible/contracts/api';
import { KEY_METRIC } from '@crucible/contracts/monitors';
import { MonitorChart } from '../components/monitor-chart';
import {
  StateDot,
  canWriteMonitors,
  useCurrentWorkspace,
  useMonitorEvents,
  useNow,
} from '../components/monitor-bits';
import { StatusChip, VerdictChip } from '../components/status-chip';
import {
  formatUptime,
  isMonitorEvent,
  mergeRuns,
  metricOf,
  runChart,
  scheduleText,
  untilText,
} from '../lib/monitors';
import type { RunChart } from '../lib/monitors';
import { incidentSpans } from '../lib/incidents';
import type { IncidentSpan } from '../lib/incidents';
import { api } from '../session';

const PAGE_SIZE = 100;

const message = (err: unknown) => (err instanceof ApiError ? err.message : String(err));

/** What a slot came to, in words: the run's state, or why there was no run. */
function slotText(run: MonitorRunView): string {
  if (run.outcome === 'skipped') return run.reason ? `skipped (${run.reason})` : 'skipped';
  if (run.outcome === 'missed') return 'missed';
  return run.state ?? 'running';
}

function RunsTable({ runs, metric }: { runs: readonly MonitorRunView[]; metric: string }) {
  return (
    <div class="table-wrap">
      <table class="tests" data-testid="monitor-runs">
        <thead>
          <tr>
            <th scope="col">slot</th>
            <th scope="col">state</th>
            <th scope="col">test</th>
            <th scope="col">{metric}</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => {
            const value = metricOf(run.metrics, metric);
            return (
              <tr key={run.scheduledFor} data-slot={run.scheduledFor}>
                <td>
                  {run.testId ? (
                    <a href={`/tests/${run.testId}`}>{new Date(run.scheduledFor).toLocaleString()}</a>
                  ) : (
                    new Date(run.scheduledFor).toLocaleString()
                  )}
                </td>
                <td data-label="state">
                  <span class={run.state ? `state state-${run.state}` : 'muted'}>{slotText(run)}</span>
                </td>
                <td data-label="test">
                  {run.status && <StatusChip status={run.status as TestView['status']} />}{' '}
                  <VerdictChip verdict={run.verdict} />
                </td>
                <td data-label={metric}>
                  {value ? (
                    `${Number(value.value.toPrecision(4))} ${value.unit}`
                  ) : (
                    <span class="muted">—</span>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** Pause or resume, run now, edit, delete (asked twice: it stops the schedule for good). */
function Actions({
  monitor,
  onChanged,
  setNotice,
}: {
  monitor: MonitorView;
  onChanged: (next: MonitorView | null) => void;
  setNotice: (notice: { text: string; testId?: string; error?: boolean } | null) => void;
}) {
  const { route } = useLocation();
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const act = async (work: () => Promise<void>) => {
    setBusy(true);
    setNotice(null);
    try {
      await work();
    } catch (err) {
      setNotice({ text: message(err), error: true });
    } finally {
      setBusy(false);
    }
  };
  const params = { id: monitor.id };
  return (
    <div class="actions-row">
      <button
        type="button"
        class="secondary"
        disabled={busy}
        onClick={() =>
          act(async () => {
            const next = await api.call('updateMonitor', { params, body: { enabled: !monitor.enabled } });
            onChanged(next);
            setNotice({ text: next.enabled ? 'Resumed: it runs from its next slot.' : 'Paused.' });
          })
        }
      >
        {monitor.enabled ? 'Pause' : 'Resume'}
      </button>
      <button
        type="button"
        disabled={busy}
        onClick={() =>
          act(async () => {
            const accepted = await api.call('runMonitor', { params });
            setNotice({ text: 'Run queued', testId: accepted.testId });
          })
        }
      >
        Run now
      </button>
      <a class="button secondary" href={`/monitors/${monitor.id}/edit`}>
        Edit
      </a>
      {confirming ? (
        <span role="group" aria-label="Delete this monitor?">
          Delete it? Its runs stop; its tests stay.{' '}
          <button
            type="button"
            class="danger"
            disabled={busy}
            onClick={() =>
              act(async () => {
                await api.call('deleteMonitor', { params });
                onChanged(null);
                route('/monitors');
              })
            }
          >
            Delete monitor
          </button>{' '}
          <button type="button" class="secondary" onClick={() => setConfirming(false)}>
            Keep it
          </button>
        </span>
      ) : (
        <button type="button" class="danger" disabled={busy} onClick={() => setConfirming(true)}>
          Delete
        </button>
      )}
    </div>
  );
}

/** Name, state, what it tests and when, and its figures. */
function Summary({ monitor, now }: { monitor: MonitorView; now: number }) {
  return (
    <>
      <p class="small">
        <a href="/monitors">Monitors</a>
      </p>
      <div class="title-row">
        <h1>{monitor.name}</h1>
        <StateDot status={monitor.status} />
      </div>
      <p class="muted">
        <span class="type-tag">{String(monitor.test.testType)}</span> {String(monitor.test.url)} ·{' '}
        {scheduleText(monitor.schedule)}
        {monitor.codeKey && ` · from crucible deploy (${monitor.codeKey})`}
      </p>
      <dl class="figures-list">
        <div>
          <dt>uptime 24 h</dt>
          <dd data-testid="uptime-24h">{formatUptime(monitor.uptime24h)}</dd>
        </div>
        <div>
          <dt>uptime 30 d</dt>
          <dd>{formatUptime(monitor.uptime30d)}</dd>
        </div>
        <div>
          <dt>next run</dt>
          <dd data-testid="next-run">{monitor.enabled ? untilText(monitor.nextRunAt, now) : 'paused'}</dd>
        </div>
      </dl>
    </>
  );
}

/**
 * The chart of the runs shown, and the monitor's incidents as spans on it — asked again whenever a
 * newer run shows (a run is what opens or resolves one). The newest 100: more than the chart's
 * runs ever span.
 */
function useMonitorChart(
  id: string,
  runs: readonly MonitorRunView[],
  metric: string,
): { chart: RunChart; spans: IncidentSpan[] } {
  const chart = useMemo(() => runChart(runs, metric), [runs, metric]);
  const [incidents, setIncidents] = useState<readonly IncidentView[]>([]);
  const newest = chart.t.at(-1);
  useEffect(() => {
    api
      .call('listIncidents', { query: { monitorId: id, limit: 100 } })
      .then((answer) => setIncidents(answer.items))
      .catch(() => setIncidents([]));
  }, [id, newest]);
  const spans = useMemo(() => {
    const times = [...chart.t, ...chart.bands.flatMap((b) => [b.from, b.to])];
    return times.length === 0
      ? []
      : incidentSpans(incidents, { from: Math.min(...times), to: Math.max(...times) }, Date.now());
  }, [chart, incidents]);
  return { chart, spans };
}

/**
 * One monitor: its state and figures, a chart of its key metric per run on up/down (and
 * maintenance) bands, its runs (each linked to its test), and what can be done to it. Live from
 * the workspace channel: each settled run or state change reloads the monitor and its first page
 * of runs.
 */
export function MonitorPage({ id }: { id: string }) {
  const [monitor, setMonitor] = useState<MonitorView | null>(null);
  const [runs, setRuns] = useState<MonitorRunView[]>([]);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<{ text: string; testId?: string; error?: boolean } | null>(null);
  const now = useNow();
  const current = useCurrentWorkspace();
  const canWrite = canWriteMonitors(current);
  const generation = useRef(0);
  // Until "Show older" is used, the cursor to older runs is the first page's.
  const firstPageOnly = useRef(true);

  const load = useCallback(async () => {
    const asked = ++generation.current;
    try {
      const [m, page] = await Promise.all([
        api.call('getMonitor', { params: { id } }),
        api.call('listMonitorRuns', { params: { id }, query: { limit: PAGE_SIZE } }),
      ]);
      if (asked !== generation.current) return;
      setMonitor(m);
      setRuns((shown) => mergeRuns(page.items, shown));
      if (firstPageOnly.current) setNextCursor(page.nextCursor);
      setError(null);
    } catch (err) {
      if (asked !== generation.current) return;
      // Deleted elsewhere while open: the page says so rather than showing what is gone as current.
      setError(
        err instanceof ApiError && err.status === 404 ? 'This monitor no longer exists.' : message(err),
      );
    }
  }, [id]);
  useEffect(() => {
    firstPageOnly.current = true;
    setRuns([]);
    setNextCursor(null);
    void load();
  }, [load]);
  useMonitorEvents(current?.id ?? null, {
    accept: (m) => isMonitorEvent(m, id),
    reload: () => void load(),
    throttleMs: 500,
  });

  const older = async () => {
    if (!nextCursor) return;
    try {
      const page = await api.call('listMonitorRuns', {
        params: { id },
        query: { limit: PAGE_SIZE, cursor: nextCursor },
      });
      firstPageOnly.current = false;
      setRuns((shown) => [...shown, ...page.items]);
      setNextCursor(page.nextCursor);
    } catch (err) {
      setNotice({ text: message(err), error: true });
    }
  };

  const testType = monitor ? String(monitor.test.testType) : '';
  const metric = (KEY_METRIC as Record<string, string>)[testType] ?? '';
  const { chart, spans } = useMonitorChart(id, runs, metric);

  if (error && !monitor) {
    return (
      <main>
        <h1>Monitor</h1>
        <p role="alert" class="error-text">
          {error}
        </p>
        <p>
          <a href="/monitors">All monitors</a>
        </p>
      </main>
    );
  }
  if (!monitor) return <main aria-busy="true" />;
  return (
    <main>
      <Summary monitor={monitor} now={now} />
      {canWrite && (
        <Actions
          monitor={monitor}
          onChanged={(next) => {
            generation.current++;
            if (next) setMonitor(next);
          }}
          setNotice={setNotice}
        />
      )}
      {notice && (
        <p role={notice.error ? 'alert' : 'status'} class={notice.error ? 'error-text' : 'notice-line'}>
          {notice.text}
          {notice.testId && (
            <>
              {': '}
              <a href={`/tests/${notice.testId}`}>its test</a>
            </>
          )}
        </p>
      )}
      {error && (
        <p role="alert" class="error-text">
          {error}
        </p>
      )}
      <h2>Runs</h2>
      {runs.length === 0 ? (
        <p class="muted">
          No run yet{monitor.nextRunAt ? `: the first is ${untilText(monitor.nextRunAt, now)}` : ''}.
        </p>
      ) : (
        <>
          {metric && <MonitorChart chart={chart} metric={metric} incidents={spans} />}
          <RunsTable runs={runs} metric={metric} />
          {nextCursor && (
            <button type="button" class="secondary" onClick={() => void older()}>
              Show older runs
            </button>
          )}
        </>
      )}
    </main>
  );
}
