import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '@crucible/client';
import type { MonitorView } from '@crucible/contracts/api';
import {
  StateDot,
  Sparkline,
  canWriteMonitors,
  useCurrentWorkspace,
  useMonitorEvents,
  useNow,
} from '../components/monitor-bits';
import { applyMonitorEvent, formatUptime, isMonitorEvent, scheduleText, untilText } from '../lib/monitors';
import { api } from '../session';

/**
 * The workspace's monitors, each with its state, uptime, key metric and next run; live from the
 * workspace channel: a state change shows at once, and each run reloads the figures.
 */
export function MonitorsPage() {
  const [items, setItems] = useState<readonly MonitorView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const now = useNow();
  const current = useCurrentWorkspace();
  const canWrite = canWriteMonitors(current);
  // An answer to an older load is dropped, so a slow one cannot put back an earlier state.
  const generation = useRef(0);
  const load = useCallback(async () => {
    const asked = ++generation.current;
    try {
      const list = await api.call('listMonitors');
      if (asked !== generation.current) return;
      setItems(list.items);
      setError(null);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  }, []);
  useEffect(() => void load(), [load]);
  useMonitorEvents(current?.id ?? null, {
    accept: (m) => isMonitorEvent(m),
    reload: () => void load(),
    // A state change shows at once; the figures (uptime, sparkline, next run) follow within 2 s,
    // so a workspace of many monitors costs an open page one list request per 2 s at most.
    onEvent: (m) => setItems((shown) => (shown ? applyMonitorEvent(shown, m) : shown)),
    throttleMs: 2000,
  });

  return (
    <main>
      <div class="title-row">
        <h1>Monitors</h1>
        {canWrite && (
          <a class="button" href="/monitors/new">
            New monitor
          </a>
        )}
      </div>
      {error && (
        <p role="alert" class="error-text">
          {error}
        </p>
      )}
      {items && items.length === 0 && (
        <p>
          No monitors yet. A monitor runs a test on a schedule and keeps its uptime
          {canWrite ? (
            <>
              : <a href="/monitors/new">make one</a>.
            </>
          ) : (
            '.'
          )}
        </p>
      )}
      {items && items.length > 0 && (
        <div class="table-wrap">
          <table class="tests monitors" data-testid="monitors">
            <thead>
              <tr>
                <th scope="col">state</th>
                <th scope="col">monitor</th>
                <th scope="col">uptime 24 h</th>
                <th scope="col">uptime 30 d</th>
                <th scope="col">key metric, 24 h</th>
                <th scope="col">next run</th>
              </tr>
            </thead>
            <tbody>
              {items.map((m) => (
                <tr key={m.id} data-monitor-id={m.id}>
                  <td data-label="state">
                    <StateDot status={m.status} />
                  </td>
                  <td>
                    <a href={`/monitors/${m.id}`}>{m.name}</a>
                    <div class="muted small">
                      <span class="type-tag">{String(m.test.testType)}</span> {scheduleText(m.schedule)}
                    </div>
                  </td>
                  <td data-label="uptime 24 h">{formatUptime(m.uptime24h)}</td>
                  <td data-label="uptime 30 d">{formatUptime(m.uptime30d)}</td>
                  <td data-label="key metric">
                    <Sparkline metric={m.keyMetric} />
                  </td>
                  <td data-label="next run">
                    {m.nextRunAt ? (
                      <time dateTime={m.nextRunAt} title={new Date(m.nextRunAt).toLocaleString()}>
                        {untilText(m.nextRunAt, now)}
                      </time>
                    ) : (
                      <span class="muted">{m.enabled ? '—' : 'paused'}</span>
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
