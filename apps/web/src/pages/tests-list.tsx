import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { ApiError } from '@crucible/client';
import type { ApiResponse } from '@crucible/client';
import { TestStatuses, TestTypes, isFinished } from '@crucible/contracts/catalog';
import { Channels, channelName } from '@crucible/contracts/channels';
import type { EventMessage } from '@crucible/contracts/envelope';
import { Events } from '@crucible/contracts/events';
import { Pager } from '../components/pager';
import { StatusChip, VerdictChip } from '../components/status-chip';
import { mergeReloaded } from '../lib/row-status';
import { useChannel } from '../live-connection';
import { useStore } from '../lib/store';
import { api, session } from '../session';

const PAGE_SIZE = 20;

type Item = ApiResponse<'listTests'>['items'][number];

/** The status a `job-status-{id}` message moves a test to (DESIGN.md, "Events"). */
export function statusAfter(message: EventMessage, current: Item['status']): Item['status'] {
  switch (message.event) {
    // A new run (a retry): the channel's history holds the previous run's end before it.
    case Events.QUEUE_JOB_ADDED:
      return 'queued';
    case Events.QUEUE_JOB_STARTED:
    case Events.QUEUE_JOB_PROGRESS:
      return current === 'queued' ? 'running' : current;
    case Events.QUEUE_JOB_COMPLETED:
      return 'completed';
    case Events.QUEUE_JOB_FAILED:
      if (message.data.status === 'cancelled') return 'cancelled';
      return message.data.willRetry ? 'queued' : 'failed';
    default:
      return current;
  }
}

/** Follows one unfinished test's job channel while its row is on screen. */
function LiveRow({
  item,
  onChange,
  paused,
}: {
  item: Item;
  onChange: (next: Item) => void;
  /** While a retry is being accepted: the channel's history would still end with the old run. */
  paused: boolean;
}) {
  const latest = useRef(item);
  latest.current = item;
  // Once following, the row goes on following while it is on screen: the channel's history replays
  // earlier runs' ends (a retried test was cancelled once) before the current run's events.
  const following = useRef(false);
  const follow = !paused && (following.current || !isFinished(item.status));
  following.current = follow;
  useChannel(follow ? channelName(Channels.JOB_STATUS, { jobId: item.testId }) : null, {
    message: (m) => {
      const current = latest.current;
      const status = statusAfter(m, current.status);
      const progress =
        status === 'completed'
          ? 100
          : m.event === Events.QUEUE_JOB_ADDED
            ? 0
            : m.event === Events.QUEUE_JOB_PROGRESS
              ? Math.max(current.progress, m.data.progress)
              : current.progress;
      const verdict =
        status !== 'completed'
          ? null
          : m.event === Events.QUEUE_JOB_COMPLETED
            ? m.data.verdict
            : current.verdict;
      if (status !== current.status || progress !== current.progress || verdict !== current.verdict) {
        // The next message (a replay comes as many) starts from this state, not the last render's.
        latest.current = { ...current, status, progress, verdict };
        onChange(latest.current);
      }
    },
  });
  return null;
}

/** The list's filters, as the address says them (anything unknown is no filter). */
type Filters = { status?: Item['status']; testType?: Item['testType']; url?: string; owner?: string };

/** The emails an admin can filter the list by; nobody's for anyone else. */
function useOwners(isAdmin: boolean): string[] {
  const [owners, setOwners] = useState<string[]>([]);
  useEffect(() => {
    if (!isAdmin) return;
    api
      .call('listUsers')
      .then((users) => setOwners(users.items.map((u) => u.email).sort()))
      .catch(() => setOwners([]));
  }, [isAdmin]);
  return owners;
}

/** Status, type, owner (admins) and URL filters; each change goes to the address. */
function FilterForm({
  filters,
  isAdmin,
  setQuery,
}: {
  filters: Filters;
  isAdmin: boolean;
  setQuery: (changes: Record<string, string | undefined>) => void;
}) {
  const { status, testType, url, owner } = filters;
  const owners = useOwners(isAdmin);
  const [search, setSearch] = useState(url ?? '');
  return (
    <form
      class="filters"
      role="search"
      onSubmit={(e) => {
        e.preventDefault();
        setQuery({ url: search.trim() || undefined });
      }}
    >
      <div>
        <label for="filter-status">Status</label>
        <select
          id="filter-status"
          value={status ?? ''}
          onChange={(e) => setQuery({ status: e.currentTarget.value || undefined })}
        >
          <option value="">any</option>
          {Object.values(TestStatuses).map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label for="filter-type">Type</label>
        <select
          id="filter-type"
          value={testType ?? ''}
          onChange={(e) => setQuery({ type: e.currentTarget.value || undefined })}
        >
          <option value="">any</option>
          {Object.values(TestTypes).map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
      </div>
      {isAdmin && (
        <div>
          <label for="filter-owner">Owner</label>
          <select
            id="filter-owner"
            value={owner ?? ''}
            onChange={(e) => setQuery({ owner: e.currentTarget.value || undefined })}
          >
            <option value="">anyone</option>
            {/* A bookmarked owner beyond the newest users listed still shows as chosen. */}
            {(owner && !owners.includes(owner) ? [owner, ...owners] : owners).map((email) => (
              <option key={email} value={email}>
                {email}
              </option>
            ))}
          </select>
        </div>
      )}
      <div class="grow">
        <label for="filter-url">URL contains</label>
        <input
          id="filter-url"
          type="search"
          value={search}
          onInput={(e) => setSearch(e.currentTarget.value)}
        />
      </div>
      <button type="submit">Search</button>
    </form>
  );
}

/** One row a test, each following its job channel while unfinished, with cancel and retry. */
function TestsTable({
  items,
  isAdmin,
  retrying,
  replace,
  act,
}: {
  items: Item[];
  isAdmin: boolean;
  /** The test whose retry is being accepted, if any. */
  retrying: string | null;
  replace: (next: Item) => void;
  act: (item: Item, action: 'cancel' | 'retry') => void;
}) {
  return (
    <div class="table-wrap">
      <table class="tests">
        <thead>
          <tr>
            <th scope="col">test</th>
            <th scope="col">status</th>
            {isAdmin && <th scope="col">owner</th>}
            <th scope="col">created</th>
            <th scope="col">
              <span class="visually-hidden">actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {items.map((item) => (
            <tr key={item.testId} data-test-id={item.testId}>
              <td>
                <LiveRow item={item} onChange={replace} paused={retrying === item.testId} />
                <a href={`/tests/${item.testId}`}>{item.name || item.url}</a>
                <div class="muted small">
                  <span class="type-tag">{item.testType}</span> {item.name ? item.url : ''}
                </div>
              </td>
              <td>
                <StatusChip status={item.status} /> <VerdictChip verdict={item.verdict} />
                {item.status === 'running' && <span class="muted small"> {item.progress}%</span>}
              </td>
              {isAdmin && (
                <td data-label="owner" class="small">
                  {item.owner?.email ?? '(deleted user)'}
                </td>
              )}
              <td>{new Date(item.createdAt).toLocaleString()}</td>
              <td class="row-actions">
                {!isFinished(item.status) && (
                  <button type="button" class="danger" onClick={() => act(item, 'cancel')}>
                    Cancel<span class="visually-hidden"> {item.name || item.url}</span>
                  </button>
                )}
                {(item.status === 'failed' || item.status === 'cancelled') && (
                  <button type="button" class="secondary" onClick={() => act(item, 'retry')}>
                    Retry<span class="visually-hidden"> {item.name || item.url}</span>
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function TestsListPage() {
  const { query, path, route } = useLocation();
  const status = Object.values(TestStatuses).includes(query.status as Item['status'])
    ? (query.status as Item['status'])
    : undefined;
  const testType = Object.values(TestTypes).includes(query.type as Item['testType'])
    ? (query.type as Item['testType'])
    : undefined;
  const url = query.url || undefined;
  const owner = query.owner || undefined;
  const cursor = query.cursor || undefined;
  // An admin's list holds everyone's tests: it names each one's owner and can show one owner's.
  const isAdmin = useStore(session)?.user.role === 'admin';
  const [items, setItems] = useState<Item[] | null>(null);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  // Cursors of the pages before this one, for "Previous".
  const history = useRef<string[]>([]);

  // Each load (and each action) takes a number; an answer to an older one is dropped, so a page
  // read before a retry or cancel cannot put back the row's earlier status.
  const generation = useRef(0);
  // When each row's channel last moved it: a reload asked before then keeps the channel's status.
  const movedAt = useRef(new Map<string, number>());
  const load = useCallback(async () => {
    const asked = ++generation.current;
    const askedAt = performance.now();
    try {
      const page = await api.call('listTests', {
        query: { status, testType, url, owner, cursor, limit: PAGE_SIZE },
      });
      if (asked !== generation.current) return;
      setItems((shown) => mergeReloaded(shown, page.items, movedAt.current, askedAt));
      setNextCursor(page.nextCursor);
      setError(null);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  }, [status, testType, url, owner, cursor]);
  useEffect(() => void load(), [load]);
  // The page as the address says it now: an action answered after the filters changed reloads
  // this, not the page it was started on (its own closure's `load`).
  const current = useRef(load);
  current.current = load;

  // New tests and finished ones change the first page: reload it when the queue moves.
  useChannel(cursor ? null : Channels.QUEUE_UPDATES, { message: () => void load() });

  const setQuery = (changes: Record<string, string | undefined>, keepCursor = false) => {
    const next = new URLSearchParams();
    const merged = {
      status,
      type: testType,
      url,
      owner,
      cursor: keepCursor ? cursor : undefined,
      ...changes,
    };
    for (const [key, value] of Object.entries(merged)) if (value) next.set(key, value);
    if (!keepCursor && !('cursor' in changes)) history.current = [];
    const text = next.toString();
    route(text ? `${path}?${text}` : path);
  };

  const replace = (next: Item) =>
    setItems((all) => all?.map((i) => (i.testId === next.testId ? next : i)) ?? all);
  const moved = (next: Item) => {
    movedAt.current.set(next.testId, performance.now());
    replace(next);
  };

  /**
   * The row shows the action's outcome at once (a retried test is queued, and its row then
   * follows the test's events); it goes back if the API refuses.
   */
  const [retrying, setRetrying] = useState<string | null>(null);
  const act = async (item: Item, action: 'cancel' | 'retry') => {
    setNotice(null);
    generation.current++;
    if (action === 'retry') setRetrying(item.testId);
    // Until the API answers, a reload (the queue moved meanwhile) reads the row as it was before
    // the action: the row keeps what it shows, as for a move its channel made after the reload.
    movedAt.current.set(item.testId, Infinity);
    replace(
      action === 'cancel'
        ? { ...item, status: 'cancelled' }
        : { ...item, status: 'queued', progress: 0, verdict: null },
    );
    const answered = () => movedAt.current.set(item.testId, performance.now());
    try {
      if (action === 'cancel') await api.call('cancelTest', { params: { testId: item.testId } });
      else await api.call('retryTest', { params: { jobId: item.testId } });
      answered();
      setNotice(`${action === 'cancel' ? 'Cancelled' : 'Queued again'}: ${item.name || item.url}`);
      await current.current();
    } catch (err) {
      answered();
      replace(item);
      setNotice(err instanceof ApiError ? err.message : String(err));
    } finally {
      if (action === 'retry') setRetrying(null);
    }
  };

  return (
    <main>
      <div class="title-row">
        <h1>Tests</h1>
        <a class="button" href="/new">
          New test
        </a>
      </div>
      <FilterForm filters={{ status, testType, url, owner }} isAdmin={isAdmin} setQuery={setQuery} />
      {notice && (
        <p role="status" class="notice-line">
          {notice}
        </p>
      )}
      {error && (
        <p role="alert" class="error-text">
          {error}
        </p>
      )}
      {items && items.length === 0 && (
        <p>
          No tests{status || testType || url || owner ? ' match these filters' : ' yet'}.{' '}
          <a href="/new">Run one</a>.
        </p>
      )}
      {items && items.length > 0 && (
        <TestsTable items={items} isAdmin={isAdmin} retrying={retrying} replace={moved} act={act} />
      )}
      <Pager cursor={cursor} nextCursor={nextCursor} history={history} setQuery={setQuery} />
    </main>
  );
}
