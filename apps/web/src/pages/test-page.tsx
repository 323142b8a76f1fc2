import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { ApiError } from '@crucible/client';
import type { ApiResponse } from '@crucible/client';
import type { TestView } from '@crucible/contracts/api';
import { isFinished } from '@crucible/contracts/catalog';
import { Channels, channelName } from '@crucible/contracts/channels';
import type { EventMessage } from '@crucible/contracts/envelope';
import { Events } from '@crucible/contracts/events';
import { ProgressBar } from '../components/progress-bar';
import { SharePanel } from '../components/share-panel';
import { StatusChip, VerdictChip } from '../components/status-chip';
import { StressCharts } from '../components/stress-charts';
import { TestResult, storedStressPoints } from '../components/results';
import { afterFailedAttempt, refreshed } from '../lib/attempts';
import { curlForTest } from '../lib/curl';
import { addPoint, toStressPoint } from '../lib/stress-series';
import type { StressPoint } from '../lib/stress-series';
import { useChannel } from '../live-connection';
import { api } from '../session';

/** A worker writes progress at most once a second, possibly just after the event went out. */
const PROGRESS_WRITE_LAG_MS = 1_000;

/** A test with its attempts and re-runs, as `GET /api/test/:id` answers. */
type TestDetail = ApiResponse<'getTest'>;

function download(test: TestView) {
  const blob = new Blob([JSON.stringify(test, null, 2)], { type: 'application/json' });
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = `crucible-${test.testType}-${test.testId}.json`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 0);
}

/**
 * While a test runs the server says "stalled" once it was not written for the workers' lock
 * duration, but nothing tells an open page so: with no progress heard for that long, it asks again.
 */
function useStallCheck(
  id: string,
  test: TestDetail | null,
  heardAt: { current: number },
  setTest: (update: (t: TestDetail | null) => TestDetail | null) => void,
) {
  const progressing = test?.status === 'running' && !test.stalled;
  const stalledAfterMs = test?.stalledAfterMs;
  useEffect(() => {
    if (!progressing || !stalledAfterMs) return;
    const ask = async () => {
      heardAt.current = Date.now();
      try {
        const next = await api.call('getTest', { params: { jobId: id } });
        setTest((t) => {
          // An answer overtaken by the test's end is not the news.
          if (!t || isFinished(t.status)) return t;
          return refreshed(t, next);
        });
      } catch {
        // Asked again after the same wait; the page stays as it was meanwhile.
      }
    };
    const timer = setInterval(
      () => {
        if (Date.now() - heardAt.current >= stalledAfterMs + PROGRESS_WRITE_LAG_MS) void ask();
      },
      Math.min(1_000, stalledAfterMs),
    );
    return () => clearInterval(timer);
  }, [progressing, stalledAfterMs, id]);
}

/**
 * Test `id` as the page shows it: loaded, then kept current by its progress, stress and job
 * channels, and asked for again when it seems stalled.
 */
function useLiveTest(id: string) {
  const [test, setTest] = useState<TestDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [stage, setStage] = useState('');
  const [points, setPoints] = useState<StressPoint[]>([]);
  /** Why the progress went back to 0 (a lost worker, a crashed attempt); cleared once the test ends. */
  const [notice, setNotice] = useState<string | null>(null);
  /** When the page last heard how the test stands (loaded it, or heard it move): the stall check counts from here. */
  const heardAt = useRef(Date.now());

  const reload = useCallback(async () => {
    try {
      const next = await api.call('getTest', { params: { jobId: id } });
      heardAt.current = Date.now();
      setTest((t) => refreshed(t, next));
      setPoints((current) => storedStressPoints(next.result).reduce(addPoint, current));
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 404
          ? 'Test not found.'
          : String(err instanceof Error ? err.message : err),
      );
    }
  }, [id]);

  useEffect(() => {
    setTest(null);
    setError(null);
    setStage('');
    setPoints([]);
    setNotice(null);
    void reload();
  }, [reload]);

  const onStressData = (data: unknown) => {
    const point = toStressPoint(data);
    if (point) setPoints((current) => addPoint(current, point));
  };

  const onProgress = (message: EventMessage) => {
    switch (message.event) {
      case Events.TEST_STARTED:
        heardAt.current = Date.now();
        setTest((t) => (t && !isFinished(t.status) ? { ...t, status: 'running', stalled: false } : t));
        setStage('started');
        return;
      case Events.TEST_PROGRESS:
        // Progress again: whatever stalled it has recovered.
        heardAt.current = Date.now();
        setTest((t) =>
          t && !isFinished(t.status)
            ? {
                ...t,
                status: 'running',
                stalled: false,
                progress: Math.max(t.progress, message.data.progress ?? 0),
              }
            : t,
        );
        if (message.data.stage) setStage(message.data.stage);
        onStressData(message.data);
        return;
      case Events.TEST_COMPLETED:
      case Events.TEST_FAILED:
      case Events.TEST_CANCELLED:
        setStage('');
        setNotice(null);
        void reload();
        return;
    }
  };

  const known = test !== null;
  const isStress = test?.testType === 'stress';
  useChannel(known ? channelName(Channels.TEST_PROGRESS, { testId: id }) : null, {
    message: onProgress,
    reset: () => void reload(),
  });
  useChannel(isStress ? channelName(Channels.STRESS_TEST, { testId: id }) : null, {
    message: (m) => onStressData(m.data),
  });
  useChannel(known && !isFinished(test.status) ? channelName(Channels.JOB_STATUS, { jobId: id }) : null, {
    message: (m) => {
      // A queued stress test may wait for its workspace's connections: the reason comes with the test.
      if (m.event === Events.QUEUE_JOB_WAITING && isStress && test?.status === 'queued') void reload();
      setTest((t) => {
        const retried = t && !isFinished(t.status) ? afterFailedAttempt(t, m) : null;
        if (!retried) return t;
        heardAt.current = Date.now();
        setNotice(retried.notice);
        setStage('');
        // The next attempt draws its own load curve.
        setPoints([]);
        return { ...retried.test, stalled: false };
      });
    },
  });
  useStallCheck(id, test, heardAt, setTest);

  return { test, error, stage, points, notice, reload, clearPoints: () => setPoints([]) };
}

/** When the test was made, started and finished, where it waits, and its re-runs and retries. */
function TestFacts({ test }: { test: TestDetail }) {
  const finished = isFinished(test.status);
  return (
    <dl class="facts">
      <div>
        <dt>priority</dt>
        <dd>{test.priority}</dd>
      </div>
      <div>
        <dt>created</dt>
        <dd>{new Date(test.createdAt).toLocaleString()}</dd>
      </div>
      {test.startedAt && (
        <div>
          <dt>started</dt>
          <dd>{new Date(test.startedAt).toLocaleString()}</dd>
        </div>
      )}
      {test.completedAt && (
        <div>
          <dt>finished</dt>
          <dd>{new Date(test.completedAt).toLocaleString()}</dd>
        </div>
      )}
      {test.status === 'queued' && test.queuePosition !== null && (
        <div>
          <dt>position in queue</dt>
          <dd>{test.queuePosition}</dd>
        </div>
      )}
      {test.status === 'queued' && test.waitReason !== null && (
        <div>
          <dt>waiting</dt>
          <dd role="status">{test.waitReason}</dd>
        </div>
      )}
      {!finished && test.stalled && (
        <div>
          <dt>expected to finish in</dt>
          <dd data-testid="stalled">stalled — waiting for recovery</dd>
        </div>
      )}
      {!finished && !test.stalled && test.etaSeconds !== null && (
        <div>
          <dt>expected to finish in</dt>
          <dd>~{test.etaSeconds} s</dd>
        </div>
      )}
      {test.rerunOf && (
        <div>
          <dt>run again from</dt>
          <dd>
            <a href={`/tests/${test.rerunOf}`} data-testid="rerun-of">
              earlier test
            </a>
          </dd>
        </div>
      )}
      {test.reruns.length > 0 && (
        <div>
          <dt>run again as</dt>
          <dd data-testid="reruns">
            {test.reruns.map((r, i) => (
              <span key={r}>
                {i > 0 && ', '}
                <a href={`/tests/${r}`}>{i === 0 ? 'latest re-run' : `re-run ${test.reruns.length - i}`}</a>
              </span>
            ))}
          </dd>
        </div>
      )}
      {test.retryCount > 0 && (
        <div>
          <dt>retries</dt>
          <dd>{test.retryCount}</dd>
        </div>
      )}
    </dl>
  );
}

/** Every attempt of every run, when there was more than one. */
function Attempts({ attempts }: { attempts: TestDetail['attempts'] }) {
  return (
    <section aria-labelledby="attempts-heading">
      <h2 id="attempts-heading">Attempts</h2>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">run</th>
              <th scope="col">attempt</th>
              <th scope="col">status</th>
              <th scope="col">started</th>
              <th scope="col">error</th>
            </tr>
          </thead>
          <tbody>
            {attempts.map((a) => (
              <tr key={`${a.run}-${a.attempt}`}>
                <td>{a.run}</td>
                <td>{a.attempt}</td>
                <td>{a.status}</td>
                <td>{new Date(a.startedAt).toLocaleString()}</td>
                <td>{a.errorMessage ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function TestPage({ id }: { id: string }) {
  const { route } = useLocation();
  const { test, error, stage, points, notice, reload, clearPoints } = useLiveTest(id);
  const [actionError, setActionError] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);

  if (error) {
    return (
      <main>
        <h1>Test</h1>
        <p role="alert">{error}</p>
        <p>
          <a href="/tests">All tests</a>
        </p>
      </main>
    );
  }
  if (!test) return <main aria-busy="true">Loading…</main>;

  const finished = isFinished(test.status);
  const act = async (action: 'cancel' | 'retry' | 'rerun') => {
    setActionError(null);
    try {
      if (action === 'cancel') await api.call('cancelTest', { params: { testId: test.testId } });
      else if (action === 'rerun') {
        // A new test of its own: this one and its result stay, linked both ways.
        const again = await api.call('rerunTest', { params: { testId: test.testId } });
        route(`/tests/${again.testId}`);
        return;
      } else {
        await api.call('retryTest', { params: { jobId: test.testId } });
        // A new run draws its own load curve.
        clearPoints();
      }
      await reload();
    } catch (err) {
      setActionError(err instanceof ApiError ? err.message : String(err));
    }
  };
  const copyCurl = async () => {
    await navigator.clipboard.writeText(curlForTest(location.origin, test));
    setCopied(true);
  };

  return (
    <main>
      <p class="crumbs">
        <a href="/tests">Tests</a> /
      </p>
      <h1 class="test-title">
        {test.name || `${test.testType} test`} <StatusChip status={test.status} />{' '}
        <VerdictChip verdict={test.verdict} />
      </h1>
      <p class="url">
        <span class="type-tag">{test.testType}</span>{' '}
        <a href={test.url} rel="noreferrer noopener" target="_blank">
          {test.url}
        </a>
      </p>
      <TestFacts test={test} />
      {notice && !finished && (
        <p role="status" class="notice-line" data-testid="attempt-notice">
          {notice}
        </p>
      )}
      {/* How far a failed run got says nothing useful (a timed-out one reads 99 %): its error does. */}
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
          stage={finished ? '' : stage}
        />
      )}
      {test.errorMessage && (
        <p role="alert" class="error-text">
          {test.errorMessage}
        </p>
      )}
      <div class="actions">
        {!finished && (
          <button type="button" class="danger" onClick={() => act('cancel')}>
            Cancel test
          </button>
        )}
        {finished && (
          <button type="button" onClick={() => act('rerun')}>
            Run again
          </button>
        )}
        {(test.status === 'failed' || test.status === 'cancelled') && (
          <button type="button" class="secondary" onClick={() => act('retry')}>
            Retry
          </button>
        )}
        <button type="button" class="secondary" onClick={copyCurl}>
          {copied ? 'Copied' : 'Copy as curl'}
        </button>
        <button type="button" class="secondary" onClick={() => download(test)}>
          Download JSON
        </button>
      </div>
      {actionError && (
        <p role="alert" class="error-text">
          {actionError}
        </p>
      )}
      {test.testType === 'stress' && <StressCharts points={points} />}
      {finished && <TestResult test={test} />}
      {test.attempts.length > 1 && <Attempts attempts={test.attempts} />}
      <SharePanel testId={test.testId} />
    </main>
  );
}
