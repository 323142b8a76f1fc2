import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError } from '@crucible/client';
import type { ApiResponse } from '@crucible/client';
import { Channels } from '@crucible/contracts/channels';
import { Events } from '@crucible/contracts/events';
import { StatusChip } from '../components/status-chip';
import { useChannel } from '../live-connection';
import { api } from '../session';

type Status = ApiResponse<'queueStatus'>;

function Counts({ id, title, counts }: { id: string; title: string; counts: Record<string, number> }) {
  return (
    <section aria-labelledby={`h-${id}`}>
      <h2 id={`h-${id}`}>{title}</h2>
      <dl class="counts">
        {Object.entries(counts).map(([name, value]) => (
          <div key={name} data-testid={`${id}-${name}`}>
            <dt>{name}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

/** The caller's running and queued tests: where each stands, when it should finish, why it waits. */
function Waiting({ tests }: { tests: Status['tests'] }) {
  return (
    <section aria-labelledby="h-waiting">
      <h2 id="h-waiting">Your running and queued tests</h2>
      {tests.length === 0 ? (
        <p class="muted">None: every test of yours has finished.</p>
      ) : (
        <ol class="waiting">
          {tests.map((t) => (
            <li key={t.testId} data-test-id={t.testId}>
              <a href={`/tests/${t.testId}`}>{t.name || t.url}</a> <StatusChip status={t.status} />{' '}
              <span class="type-tag">{t.testType}</span>
              <div class="muted small">
                {[
                  t.queuePosition === null ? null : `position ${t.queuePosition}`,
                  t.status === 'running' ? `${t.progress}%` : null,
                  t.etaSeconds === null ? null : `done in ~${t.etaSeconds} s`,
                  t.waitReason,
                ]
                  .filter(Boolean)
                  .join(' · ')}
              </div>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

/** The user's tests by status and the whole queue, kept current by `queue-updates`. */
export function QueuePage() {
  const [status, setStatus] = useState<Status | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setStatus(await api.call('queueStatus'));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  }, []);
  useEffect(() => void load(), [load]);

  useChannel(Channels.QUEUE_UPDATES, {
    message: (m) => {
      if (m.event !== Events.QUEUE_STATUS_UPDATED) return;
      // The channel carries the global counts; the user's own come from the API.
      setStatus((s) => (s ? { ...s, queue: { ...s.queue, ...m.data } } : s));
      void load();
    },
    reset: () => void load(),
  });

  return (
    <main>
      <h1>Queue</h1>
      {error && (
        <p role="alert" class="error-text">
          {error}
        </p>
      )}
      {status && (
        <>
          <Waiting tests={status.tests} />
          <Counts id="user" title="Your tests" counts={status.user} />
          <Counts id="queue" title="All tests" counts={status.queue} />
        </>
      )}
    </main>
  );
}
