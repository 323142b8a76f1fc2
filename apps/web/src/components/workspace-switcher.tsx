import { useEffect, useState } from 'preact/hooks';
import type { WorkspaceView } from '@crucible/contracts/api';
import { useStore } from '../lib/store';
import { api } from '../session';
import { selectWorkspace, workspace } from '../workspace';

/** The caller's workspaces, loaded once per sign-in; `reload` after creating or leaving one. */
export const workspacesList = { reload: () => {} };

/**
 * Which workspace the dashboard acts in. Switching reloads the page's data by going to the tests
 * list of the other workspace; a remembered workspace the user has left falls back to the personal one.
 */
export function WorkspaceSwitcher() {
  const current = useStore(workspace);
  const [items, setItems] = useState<WorkspaceView[] | null>(null);
  const load = () =>
    api
      .call('listWorkspaces')
      .then(({ items: list }) => {
        setItems(list);
        if (current && !list.some((w) => w.id === current)) selectWorkspace(null);
      })
      .catch(() => setItems([]));
  useEffect(() => {
    workspacesList.reload = () => void load();
    void load();
  }, []);
  if (!items || items.length < 2) return null;
  const selected = current ?? items.find((w) => w.personal)?.id ?? '';
  return (
    <label class="workspace-switcher">
      <span class="visually-hidden">Workspace</span>
      <select
        data-testid="workspace-switcher"
        value={selected}
        onChange={(e) => {
          const id = e.currentTarget.value;
          selectWorkspace(items.find((w) => w.id === id)?.personal ? null : id);
          location.assign('/tests');
        }}
      >
        {items.map((w) => (
          <option key={w.id} value={w.id}>
            {w.personal ? `${w.name} (yours)` : w.name} · {w.role}
          </option>
        ))}
      </select>
    </label>
  );
}
