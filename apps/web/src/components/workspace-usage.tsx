import { useEffect, useState } from 'preact/hooks';
import type { WorkspaceUsage } from '@crucible/contracts/api';
import { api } from '../session';

/** How often the usage is read again while the page is open. */
const REFRESH_MS = 15_000;

/** One quota's row: what is used of it, as a number and a bar (or "no limit"). */
function UsageRow(props: {
  label: string;
  used: number;
  limit: number | null;
  unit?: string;
  note?: string;
}) {
  const { label, used, limit } = props;
  const unit = props.unit ? ` ${props.unit}` : '';
  return (
    <tr>
      <th scope="row">{label}</th>
      <td>
        {used.toLocaleString()}
        {limit === null ? `${unit} (no limit)` : ` of ${limit.toLocaleString()}${unit}`}
        {props.note && <span class="muted"> · {props.note}</span>}
      </td>
      <td>
        {limit !== null && (
          <meter
            aria-label={`${label}: ${used} of ${limit}`}
            min={0}
            max={limit}
            value={Math.min(used, limit)}
            high={limit * 0.8}
            optimum={0}
          />
        )}
      </td>
    </tr>
  );
}

const time = (iso: string) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/** The workspace's use against each of its quotas (DESIGN.md, "Quotas"), read every 15 s. */
export function WorkspaceUsagePanel(props: { workspaceId: string }) {
  const [usage, setUsage] = useState<WorkspaceUsage | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stopped = false;
    const read = () =>
      api
        .call('workspaceUsage', { params: { id: props.workspaceId } })
        .then((u) => !stopped && (setUsage(u), setError(null)))
        .catch((err: unknown) => !stopped && setError(err instanceof Error ? err.message : String(err)));
    void read();
    const timer = setInterval(read, REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [props.workspaceId]);
  if (error) return <p class="error-text">Usage: {error}</p>;
  if (!usage) return null;
  return (
    <section aria-labelledby="usage-heading">
      <h2 id="usage-heading">Usage against quotas</h2>
      <div class="table-wrap">
        <table data-testid="workspace-usage">
          <tbody>
            <UsageRow label="Tests queued" used={usage.queued.used} limit={usage.queued.limit} />
            <UsageRow
              label="Tests running"
              used={usage.running.used}
              limit={usage.running.limit}
              note="more wait queued"
            />
            <UsageRow
              label="Submissions this minute"
              used={usage.submitRate.used}
              limit={usage.submitRate.limit}
              note={`counts again from ${time(usage.submitRate.resetsAt)}`}
            />
            <UsageRow
              label="Stress budget today"
              used={usage.stressBudget.used}
              limit={usage.stressBudget.limit}
              unit="connection-seconds"
              note={`resets at ${time(usage.stressBudget.resetsAt)} (midnight UTC)`}
            />
          </tbody>
        </table>
      </div>
      <p class="muted">
        Stress tests of this workspace hold at most{' '}
        {usage.stressConnections.limit === null
          ? 'any number of'
          : usage.stressConnections.limit.toLocaleString()}{' '}
        connections together; an instance admin may change any of these limits.
      </p>
    </section>
  );
}
