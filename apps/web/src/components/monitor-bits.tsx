import { useEffect, useRef, useState } from 'preact/hooks';
import { can } from '@crucible/contracts/api';
import type { MonitorView, WorkspaceView } from '@crucible/contracts/api';
import { Channels, channelName } from '@crucible/contracts/channels';
import type { EventMessage } from '@crucible/contracts/envelope';
import { sparklinePoints } from '../lib/monitors';
import { useStore } from '../lib/store';
import { useChannel } from '../live-connection';
import { api } from '../session';
import { workspace } from '../workspace';

/** The workspace the dashboard acts in (the chosen one, or the caller's personal one), once known. */
export function useCurrentWorkspace(): WorkspaceView | null {
  const chosen = useStore(workspace);
  const [current, setCurrent] = useState<WorkspaceView | null>(null);
  useEffect(() => {
    api
      .call('listWorkspaces')
      .then(({ items }) => setCurrent(items.find((w) => (chosen ? w.id === chosen : w.personal)) ?? null))
      .catch(() => setCurrent(null));
  }, [chosen]);
  return current;
}

/**
 * Whether the caller may change monitors in `current` (`monitor:write`): a viewer is shown no
 * button the API would refuse. Until the role is known, the buttons show and the API decides.
 */
export function canWriteMonitors(current: WorkspaceView | null): boolean {
  return current === null || can(current.role, 'monitor:write');
}

/**
 * Follows the workspace's channel (`team-{workspaceId}`; none while `workspaceId` is null), where
 * monitors' runs and state changes are published, and calls `reload` after each monitor event
 * `accept` takes — at most once per `throttleMs`, so a burst of runs is one request. `onEvent` sees
 * every accepted message first.
 */
export function useMonitorEvents(
  workspaceId: string | null,
  options: {
    accept: (message: EventMessage) => boolean;
    reload: () => void;
    onEvent?: (message: EventMessage) => void;
    throttleMs: number;
  },
): void {
  const { accept, reload, onEvent, throttleMs } = options;
  const id = workspaceId;
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => clearTimeout(timer.current ?? undefined), []);
  useChannel(id ? channelName(Channels.TEAM, { teamId: id }) : null, {
    message: (m) => {
      if (!accept(m)) return;
      onEvent?.(m);
      timer.current ??= setTimeout(() => {
        timer.current = null;
        reload();
      }, throttleMs);
    },
    reset: reload,
  });
}

/** The time now, every `ms`: for "next run in 12 s". */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(id);
  }, [ms]);
  return now;
}

/** A coloured dot and the status word beside it (the word, so colour is never the only sign). */
export function StateDot({ status }: { status: MonitorView['status'] }) {
  return (
    <span class={`state state-${status}`} data-status={status}>
      <span class="dot" aria-hidden="true" />
      {status}
    </span>
  );
}

/** The key metric over 24 h as a small line; its last value is written beside it. */
export function Sparkline({ metric }: { metric: MonitorView['keyMetric'] }) {
  const [width, height] = [120, 24];
  if (!metric || metric.series.length === 0) return <span class="muted">—</span>;
  return (
    <span class="spark">
      <svg
        width={width}
        height={height}
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label={`${metric.name} over 24 h: ${metric.series.length} runs`}
      >
        <polyline
          points={sparklinePoints(metric.series, width, height)}
          fill="none"
          stroke="currentColor"
          stroke-width="1.5"
        />
      </svg>
      <span class="small">
        {metric.name} {metric.last === null ? '—' : Number(metric.last.toPrecision(4))}
      </span>
    </span>
  );
}
