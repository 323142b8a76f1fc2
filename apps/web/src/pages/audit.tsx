import { useEffect, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { ApiError } from '@crucible/client';
import { can } from '@crucible/contracts/api';
import type { AuditEntryView, WorkspaceView } from '@crucible/contracts/api';
import { Pager } from '../components/pager';
import { useStore } from '../lib/store';
import { api } from '../session';
import { workspace } from '../workspace';

const message = (err: unknown) => (err instanceof ApiError ? err.message : String(err));

/** An entry's details as `key: value` pairs (DESIGN.md, "Audit log", lists them per action). */
const details = (entry: AuditEntryView) =>
  Object.entries(entry.details)
    .map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(', ');

/** The current workspace's audit log, newest first, a page per cursor (admins and owners). */
export function AuditPage() {
  const { path, query, route } = useLocation();
  const current = useStore(workspace);
  const [ws, setWs] = useState<WorkspaceView | null>(null);
  const [page, setPage] = useState<{ items: AuditEntryView[]; nextCursor: string | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const visited = useRef<string[]>([]);
  const cursor = query.cursor || undefined;
  useEffect(() => {
    void (async () => {
      setError(null);
      try {
        const { items } = await api.call('listWorkspaces');
        const found = items.find((w) => w.id === current) ?? items.find((w) => w.personal) ?? null;
        setWs(found);
        if (!found) return;
        if (!can(found.role, 'audit:read'))
          return setError('Only admins and owners of this workspace read its audit log.');
        setPage(
          await api.call('workspaceAudit', { params: { id: found.id }, query: cursor ? { cursor } : {} }),
        );
      } catch (err) {
        setError(message(err));
      }
    })();
  }, [current, cursor]);
  const setQuery = (changes: Record<string, string | undefined>) =>
    route(changes.cursor ? `${path}?cursor=${encodeURIComponent(changes.cursor)}` : path);
  return (
    <main>
      <p class="crumbs">
        <a href="/workspace">{ws ? ws.name : 'Workspace'}</a> /
      </p>
      <h1>Audit log</h1>
      {error && (
        <p role="alert" class="error-text">
          {error}
        </p>
      )}
      {page && page.items.length === 0 && <p class="muted">Nothing recorded yet.</p>}
      {page && page.items.length > 0 && (
        <div class="table-wrap">
          <table data-testid="audit">
            <thead>
              <tr>
                <th scope="col">when</th>
                <th scope="col">who</th>
                <th scope="col">action</th>
                <th scope="col">on</th>
                <th scope="col">details</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((e) => (
                <tr key={e.id}>
                  <td>{new Date(e.createdAt).toLocaleString()}</td>
                  <td>{e.actor ? e.actor.email : 'Crucible'}</td>
                  <td>{e.action}</td>
                  <td>{e.target ? `${e.target.type} ${e.target.id}` : ''}</td>
                  <td>{details(e)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page && <Pager cursor={cursor} nextCursor={page.nextCursor} history={visited} setQuery={setQuery} />}
    </main>
  );
}
