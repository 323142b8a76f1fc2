import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError } from '@crucible/client';
import type { SharedTestView } from '@crucible/contracts/api';
import { isFinished } from '@crucible/contracts/catalog';
import { Events } from '@crucible/contracts/events';
import { ProgressBar } from '../components/progress-bar';
import { TestResult } from '../components/results';
import { StatusChip, VerdictChip } from '../components/status-chip';
import { connectShared } from '../live-connection';
import { api } from '../session';

const GONE = 'This link was revoked or has expired.';

/**
 * The shared test: loaded without sign-in, then followed over an anonymous socket of the link while
 * it runs. A 404, a refused channel or a socket closed as revoked all mean the link is gone.
 */
function useSharedTest(shareId: string) {
  const [test, setTest] = useState<SharedTestView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      setTest(await api.call('getShared', { params: { shareId } }));
    } catch (err) {
      setTest(null);
      setError(
        err instanceof ApiError && err.status === 404
          ? GONE
          : String(err instanceof Error ? err.message : err),
      );
    }
  }, [shareId]);
  useEffect(() => void load(), [load]);

  const running = test !== null && !isFinished(test.status);
  const channel = test?.channel;
  useEffect(() => {
    if (!running || !channel) return;
    const gone = () => {
      setTest(null);
      setError(GONE);
    };
    const live = connectShared(shareId, gone);
    // A link revoked while the socket was away is refused before the upgrade: ask the API why.
    const off = live.onState((state) => state === 'reconnecting' && void load());
    const stop = live.subscribe(channel, {
      message: (m) => {
        if (m.event === Events.TEST_STARTED || m.event === Events.TEST_PROGRESS) {
          const progress = m.event === Events.TEST_PROGRESS ? (m.data.progress ?? 0) : 0;
          setTest((t) =>
            t && !isFinished(t.status)
              ? { ...t, status: 'running', progress: Math.max(t.progress, progress) }
              : t,
          );
        } else void load();
      },
      reset: () => void load(),
      error: (code) => (code === 'FORBIDDEN' ? gone() : void load()),
    });
    return () => {
      stop();
      off();
      live.close();
    };
  }, [running, channel, shareId]);
  return { test, error };
}

/** The public page of a share link (`/shared/:shareId`): no sign-in, nothing but the one test. */
export function SharedTestPage({ shareId }: { shareId: string }) {
  const { test, error } = useSharedTest(shareId);
  if (error) {
    return (
      <main>
        <h1>Shared test</h1>
        <p role="alert" data-testid="share-gone">
          {error}
        </p>
      </main>
    );
  }
  if (!test) return <main aria-busy="true">Loading…</main>;
  const finished = isFinished(test.status);
  return (
    <main>
      <h1 class="test-title">
        {test.name || `${test.testType} test`} <StatusChip status={test.status} />{' '}
        <VerdictChip verdict={test.verdict} />
      </h1>
      <p class="url">
        <span class="type-tag">{test.testType}</span> {test.url}
      </p>
      <p class="muted">
        Shared read-only{test.expiresAt ? `, until ${new Date(test.expiresAt).toLocaleString()}` : ''}. Made{' '}
        {new Date(test.createdAt).toLocaleString()}
        {test.completedAt && `, finished ${new Date(test.completedAt).toLocaleString()}`}.
      </p>
      {test.status !== 'failed' && (
        <ProgressBar
          label={
            finished
              ? `Finished: ${test.status}`
              : test.status === 'queued'
                ? 'Waiting in the queue'
                : 'Running'
          }
          value={test.status === 'completed' ? 100 : test.progress}
          stage=""
        />
      )}
      {test.errorMessage && (
        <p role="alert" class="error-text">
          {test.errorMessage}
        </p>
      )}
      {finished && <TestResult test={{ ...test, testId: null, baseline: null }} />}
      <section aria-labelledby="config-heading">
        <h2 id="config-heading">Configuration</h2>
        <pre data-testid="shared-config">{JSON.stringify(test.config, null, 2)}</pre>
      </section>
    </main>
  );
}
